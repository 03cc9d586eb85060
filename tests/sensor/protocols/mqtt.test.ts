// MQTT CONNECT: the user name and the password's length, for every protocol
// level clients speak, and nothing from what is not a well-formed CONNECT.
import { describe, expect, it } from 'vitest';
import { parseMqttConnect } from '../../../sensor/protocols/mqtt.js';
import { mqttConnect } from '../../helpers/payloads.js';
import { checkHostile } from './hostile.js';

const parse = (b: Buffer) => parseMqttConnect(b, 0, b.length);

describe('parseMqttConnect', () => {
  it('reads the user name and the password length of an MQTT 3.1.1 CONNECT', () => {
    expect(parse(mqttConnect({ user: 'sensor', password: 'correct horse' }))).toEqual({ level: 4, userFlag: true, passwordFlag: true, user: 'sensor', passwordLength: 13 });
  });

  it('skips MQTT 5 properties and a will (with its own properties) to reach them', () => {
    const b = mqttConnect({ level: 5, user: 'hub', password: 'p4ss', will: { topic: 'dev/status', payload: 'offline' } });
    expect(parse(b)).toEqual({ level: 5, userFlag: true, passwordFlag: true, user: 'hub', passwordLength: 4 });
  });

  it('reads MQTT 3.1 (MQIsdp) too', () => {
    expect(parse(mqttConnect({ level: 3, user: 'u', password: '' }))).toEqual({ level: 3, userFlag: true, passwordFlag: true, user: 'u', passwordLength: 0 });
  });

  it('says when a CONNECT carries no credentials, or only a user name', () => {
    expect(parse(mqttConnect({}))).toEqual({ level: 4, userFlag: false, passwordFlag: false, user: null, passwordLength: null });
    expect(parse(mqttConnect({ user: 'A1B2C3token' }))).toEqual({ level: 4, userFlag: true, passwordFlag: false, user: 'A1B2C3token', passwordLength: null });
  });

  it('escapes what is not printable ASCII in the user name and bounds it', () => {
    expect(parse(mqttConnect({ user: 'jürgen\n', password: 'x' }))?.user).toBe('j\\xfcrgen\\x0a');
    expect(parse(mqttConnect({ user: 'a'.repeat(300), password: 'x' }))?.user).toBe('a'.repeat(64));
  });

  it('keeps the flags when the packet is cut before the fields', () => {
    const b = mqttConnect({ user: 'sensor', password: 'secret-secret' });
    expect(parseMqttConnect(b, 0, b.length - 5)).toEqual({ level: 4, userFlag: true, passwordFlag: true, user: 'sensor', passwordLength: null });
  });

  it('is null for other packets and malformed connect flags', () => {
    const b = mqttConnect({ user: 'u', password: 'p' });
    const flagsAt = 1 + 1 + 6 + 1;
    const with_ = (i: number, v: number) => Buffer.from(b.map((c, j) => (j === i ? v : c)));
    expect(parse(with_(0, 0x20))).toBeNull(); // CONNACK
    expect(parse(with_(flagsAt, b[flagsAt] | 0x01))).toBeNull(); // reserved bit
    expect(parse(with_(flagsAt, b[flagsAt] | 0x18))).toBeNull(); // will QoS 3
    expect(parse(with_(flagsAt, b[flagsAt] | 0x20))).toBeNull(); // will retain without a will
    expect(parse(with_(flagsAt - 1, 6))).toBeNull(); // MQTT with level 6
    expect(parse(with_(4, 0x58))).toBeNull(); // "MXTT"
    expect(parse(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBeNull();
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    checkHostile(parseMqttConnect, [mqttConnect({ user: 'sensor', password: 'pw' }), mqttConnect({ level: 5, user: 'h', password: 'p', will: { topic: 't', payload: 'w' } }), mqttConnect({})]);
  });
});

/**
 * MQTT CONNECT (MQTT 3.1, 3.1.1 and 5.0): whether the client sent a user
 * name and a password, the user name, and the password's length; never the
 * password. Only the first packet of a TCP payload is read.
 */
import { printableText, validRange } from './text.js';

export interface MqttConnect {
  /** protocol level: 3 (3.1), 4 (3.1.1), 5 (5.0) */
  level: number;
  /** the connect flags said a user name / a password follows */
  userFlag: boolean;
  passwordFlag: boolean;
  /** the user name as sent (escaped, at most USER_MAX characters); null when absent or cut off */
  user: string | null;
  /** the password's length in bytes; null when absent or cut off */
  passwordLength: number | null;
}

export const MQTT_PORT = 1883;
const USER_MAX = 64;
const CONNECT = 0x10;
const USER = 0x80;
const PASSWORD = 0x40;
const WILL = 0x04;

/** A cursor over b[p, end): every read checks the bound and yields -1 / null past it. */
class Reader {
  constructor(
    private readonly b: Buffer,
    public p: number,
    private readonly end: number,
  ) {}

  u8(): number {
    return this.p < this.end ? this.b[this.p++] : -1;
  }

  u16(): number {
    if (this.p + 2 > this.end) return -1;
    const v = this.b.readUInt16BE(this.p);
    this.p += 2;
    return v;
  }

  /** A Variable Byte Integer (at most 4 bytes), or -1. */
  varint(): number {
    let v = 0;
    for (let i = 0, mul = 1; i < 4; i++, mul *= 128) {
      const c = this.u8();
      if (c < 0) return -1;
      v += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) return v;
    }
    return -1;
  }

  /** Skips a length-prefixed field; false when it runs past the end. */
  skip16(): boolean {
    const n = this.u16();
    if (n < 0 || this.p + n > this.end) return false;
    this.p += n;
    return true;
  }

  /** A length-prefixed field's [start, end), or null past the end. */
  field16(): [number, number] | null {
    const n = this.u16();
    if (n < 0 || this.p + n > this.end) return null;
    this.p += n;
    return [this.p - n, this.p];
  }

  text(n: number): string | null {
    if (this.p + n > this.end) return null;
    this.p += n;
    return this.b.toString('latin1', this.p - n, this.p);
  }
}

/** Parses an MQTT CONNECT packet at b[off, off + len), or null when it is not one. */
export function parseMqttConnect(b: Buffer, off: number, len: number): MqttConnect | null {
  if (!validRange(b, off, len) || len < 12 || b[off] !== CONNECT) return null;
  const end = off + len;
  const r = new Reader(b, off + 1, end);
  const remaining = r.varint();
  if (remaining < 10) return null;
  const nameLen = r.u16();
  const name = nameLen === 4 || nameLen === 6 ? r.text(nameLen) : null;
  const level = r.u8();
  const flags = r.u8();
  if (!((name === 'MQTT' && (level === 4 || level === 5)) || (name === 'MQIsdp' && level === 3))) return null;
  // The reserved bit is 0; without a will, its QoS and retain bits are 0 too; QoS 3 does not exist.
  if (flags < 0 || flags & 0x01 || (!(flags & WILL) && flags & 0x38) || (flags & 0x18) === 0x18) return null;
  const out: MqttConnect = { level, userFlag: (flags & USER) !== 0, passwordFlag: (flags & PASSWORD) !== 0, user: null, passwordLength: null };
  r.u16(); // keep alive
  if (level === 5 && !skipProperties(r)) return out;
  if (!r.skip16()) return out; // client identifier
  if (flags & WILL && !((level !== 5 || skipProperties(r)) && r.skip16() && r.skip16())) return out;
  if (out.userFlag) {
    const u = r.field16();
    if (u === null) return out;
    out.user = printableText(b.toString('utf8', u[0], u[1]), USER_MAX);
  }
  if (out.passwordFlag) {
    const p = r.field16();
    if (p !== null) out.passwordLength = p[1] - p[0];
  }
  return out;
}

function skipProperties(r: Reader): boolean {
  const n = r.varint();
  if (n < 0) return false;
  r.p += n;
  return true;
}

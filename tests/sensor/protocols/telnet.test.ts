// A Telnet login from both sides of the session: prompts from the server,
// keystrokes or lines from the client, option negotiation taken out.
import { describe, expect, it } from 'vitest';
import { TelnetLogin } from '../../../sensor/protocols/telnet.js';
import { checkHostile } from './hostile.js';

type Turn = ['s' | 'c', string | number[]];

/** Feeds a session's segments in order; returns what each client segment yielded. */
function session(turns: Turn[]): unknown[] {
  const t = new TelnetLogin();
  const out: unknown[] = [];
  for (const [who, data] of turns) {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    if (who === 's') t.server(b, 0, b.length);
    else {
      const c = t.client(b, 0, b.length);
      if (c) out.push(c);
    }
  }
  return out;
}

const IAC = 255;
const NEGOTIATION: number[] = [IAC, 253, 24, IAC, 253, 32, IAC, 251, 1, IAC, 251, 3]; // DO TTYPE, DO TSPEED, WILL ECHO, WILL SGA

describe('TelnetLogin', () => {
  it('reads a line-mode login as a bot sends it (Mirai-style: root, then the password at its prompt)', () => {
    expect(session([['s', [...NEGOTIATION, ...Buffer.from('\r\nBusyBox on cam login: ')]], ['c', 'root\r\n'], ['s', 'Password: '], ['c', 'xc3511\r\n'], ['s', '\r\n# ']])).toEqual([{ user: 'root', passwordLength: 6 }]);
  });

  it('reads a character-mode login with echo, backspace and a subnegotiation in the middle', () => {
    const turns: Turn[] = [['c', [IAC, 251, 24]], ['s', [IAC, 250, 24, 1, IAC, 240]], ['c', [IAC, 250, 24, 0, ...Buffer.from('xterm'), IAC, 240]], ['s', 'Username: ']];
    for (const ch of 'admn') turns.push(['c', ch], ['s', ch]);
    turns.push(['c', [0x7f]], ['s', '\b \b'], ['c', 'in'], ['s', 'in'], ['c', '\r\0'], ['s', '\r\n'], ['s', 'Password:']);
    for (const ch of 'hunter2') turns.push(['c', ch]);
    turns.push(['c', '\r\n']);
    expect(session(turns)).toEqual([{ user: 'admin', passwordLength: 7 }]);
  });

  it('reports each attempt of a guessing session', () => {
    expect(session([['s', 'login: '], ['c', 'root\r\n'], ['s', 'Password: '], ['c', '12345\r\n'], ['s', '\r\nLogin incorrect\r\nlogin: '], ['c', 'admin\r\n'], ['s', 'Password: '], ['c', 'admin\r\n']])).toEqual([
      { user: 'root', passwordLength: 5 },
      { user: 'admin', passwordLength: 5 },
    ]);
  });

  it('counts a password asked for without a login name', () => {
    expect(session([['s', 'Password: '], ['c', 'pw\r\n']])).toEqual([{ user: null, passwordLength: 2 }]);
  });

  it('sends no credential in a session that is not a login, nor for lines typed after it', () => {
    expect(session([['s', 'Welcome to the debug shell\r\n> '], ['c', 'help\r\n'], ['s', 'commands: ...\r\n> ']])).toEqual([]);
    // After the login, a segment of negotiation alone does not make the old prompt new: a command is not a password.
    expect(session([['s', 'Password: '], ['c', 'pw\r\n'], ['s', [IAC, 251, 1]], ['c', 'reboot\r\n']])).toEqual([{ user: null, passwordLength: 2 }]);
    // A prompt in the middle of the server's output is not one.
    expect(session([['s', 'enter your password: or not\r\n'], ['c', 'ls\r\n']])).toEqual([]);
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    const both = (b: Buffer, off: number, len: number) => {
      const t = new TelnetLogin();
      t.server(b, off, len);
      return t.client(b, off, len);
    };
    checkHostile(both, [Buffer.from('login: root\r\nPassword: x\r\n'), Buffer.from([...NEGOTIATION, ...Buffer.from('Password: ')])]);
  });
});

/**
 * A Telnet login as both ends show it (RFC 854): the server prompts for a
 * login name, the client types one and a line end, the server prompts for a
 * password, the client types one and a line end. Bytes are read after the
 * option negotiation (IAC sequences) is taken out, in either line or
 * character mode; a password is measured, never kept. Nothing counts as a
 * credential until the server asked for a password: a Telnet session that is
 * not a login (a device's debug shell) sends none.
 */
import { printable, validRange } from './text.js';

export interface TelnetCredential {
  /** the login name typed at the last login prompt (escaped, at most USER_MAX characters); null when none was asked for */
  user: string | null;
  passwordLength: number;
}

export const TELNET_PORTS: readonly number[] = [23, 2323];
const USER_MAX = 64;
/** Characters of the server's output kept to find a prompt at its end. */
const TAIL_MAX = 48;
/** A password line longer than this is not being typed at a prompt: it stops counting. */
const LINE_MAX = 1024;
const LOGIN_PROMPT = /(?:login|user ?name|user)\s*:\s*$/i;
const PASSWORD_PROMPT = /pass(?:word|code)\s*:\s*$/i;

const IAC = 255;
const SB = 250;
const SE = 240;

/** Takes the IAC command sequences out of one direction's stream, across segment boundaries. */
class IacFilter {
  /** 0 data, 1 after IAC, 2 after IAC WILL/WONT/DO/DONT, 3 inside a subnegotiation, 4 after IAC inside one */
  private s = 0;

  /** The data byte `c` stands for, or -1 when it is part of a command. */
  byte(c: number): number {
    switch (this.s) {
      case 0:
        if (c !== IAC) return c;
        this.s = 1;
        return -1;
      case 1:
        this.s = c === IAC ? 0 : c === SB ? 3 : c >= 251 ? 2 : 0;
        return c === IAC ? IAC : -1;
      case 2:
        this.s = 0;
        return -1;
      case 3:
        if (c === IAC) this.s = 4;
        return -1;
      default:
        this.s = c === SE ? 0 : 3;
        return -1;
    }
  }
}

type Phase = 'none' | 'user' | 'password';

/** One Telnet session's login, fed each side's payload in order. */
export class TelnetLogin {
  private readonly fromServer = new IacFilter();
  private readonly fromClient = new IacFilter();
  private tail = '';
  private phase: Phase = 'none';
  private userBytes: number[] = [];
  private user: string | null = null;
  private typed = 0;

  /** What the server wrote: a prompt at its end starts the matching phase. */
  server(b: Buffer, off: number, len: number): void {
    if (!validRange(b, off, len)) return;
    // A line end starts the tail afresh; echoed keystrokes add to it.
    let tail = this.tail;
    let wrote = false;
    for (let i = off; i < off + len; i++) {
      const c = this.fromServer.byte(b[i]);
      if (c === 0x0a || c === 0x0d) tail = '';
      else if (c >= 0x20 && c < 0x7f) tail = tail.length < TAIL_MAX ? tail + String.fromCharCode(c) : tail.slice(1) + String.fromCharCode(c);
      else continue;
      wrote = true;
    }
    this.tail = tail;
    // Only new output is a new prompt (a segment of option negotiation is not).
    if (!wrote) return;
    if (PASSWORD_PROMPT.test(this.tail)) this.start('password');
    else if (LOGIN_PROMPT.test(this.tail)) this.start('user');
  }

  /** What the client typed; the credential when it ended a password line. */
  client(b: Buffer, off: number, len: number): TelnetCredential | null {
    if (!validRange(b, off, len)) return null;
    let got: TelnetCredential | null = null;
    for (let i = off; i < off + len; i++) {
      const c = this.fromClient.byte(b[i]);
      if (c < 0 || this.phase === 'none') continue;
      const done = this.key(c);
      if (done) got = done;
    }
    return got;
  }

  private start(phase: Phase): void {
    if (phase === this.phase) return;
    this.phase = phase;
    this.typed = 0;
    if (phase === 'user') this.userBytes = [];
  }

  /** One typed byte in a login or password phase. */
  private key(c: number): TelnetCredential | null {
    const line = c === 0x0d || c === 0x0a || c === 0;
    if (this.phase === 'user') {
      if (line) {
        const u = Buffer.from(this.userBytes);
        this.user = u.length > 0 ? printable(u, 0, u.length, USER_MAX) : null;
        this.phase = 'none';
      } else if (c === 0x08 || c === 0x7f) this.userBytes.pop();
      else if (this.userBytes.length < USER_MAX) this.userBytes.push(c);
      return null;
    }
    if (line) {
      this.phase = 'none';
      return { user: this.user, passwordLength: this.typed };
    }
    if (c === 0x08 || c === 0x7f) this.typed = Math.max(0, this.typed - 1);
    else if (++this.typed > LINE_MAX) this.phase = 'none';
    return null;
  }
}

// FTP USER and PASS: the user name, the password's length, nothing else.
import { describe, expect, it } from 'vitest';
import { parseFtpLogins } from '../../../sensor/protocols/ftp.js';
import { checkHostile } from './hostile.js';

const parse = (s: string) => parseFtpLogins(Buffer.from(s, 'latin1'), 0, s.length);

describe('parseFtpLogins', () => {
  it('reads USER and PASS in any case, one a segment or several', () => {
    expect(parse('USER camera\r\n')).toEqual([{ cmd: 'USER', user: 'camera' }]);
    expect(parse('pass s3cret-pw\r\n')).toEqual([{ cmd: 'PASS', passwordLength: 9 }]);
    expect(parse('USER a\r\nPASS bb\r\nSYST\r\n')).toEqual([{ cmd: 'USER', user: 'a' }, { cmd: 'PASS', passwordLength: 2 }]);
  });

  it('takes a bare LF and a last line without its line end', () => {
    expect(parse('USER x\nPASS yyy')).toEqual([{ cmd: 'USER', user: 'x' }, { cmd: 'PASS', passwordLength: 3 }]);
  });

  it('ignores other commands and look-alikes', () => {
    expect(parse('USERS x\r\nPASV\r\nLIST\r\nRETR PASS\r\n')).toEqual([]);
    expect(parse('220 ProFTPD Server ready.\r\n')).toEqual([]);
  });

  it('escapes and bounds the user name', () => {
    expect(parse(`USER ${'\x00'.repeat(3)}root\r\n`)).toEqual([{ cmd: 'USER', user: '\\x00\\x00\\x00root' }]);
    expect((parse(`USER ${'u'.repeat(200)}\r\n`)[0] as { user: string }).user).toHaveLength(64);
  });

  it('stops at a line too long to be a command, and after 8 commands', () => {
    expect(parse(`${'A'.repeat(600)}\r\nUSER x\r\n`)).toEqual([]);
    expect(parse('USER a\r\n'.repeat(20))).toHaveLength(8);
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    checkHostile(parseFtpLogins, [Buffer.from('USER camera\r\nPASS s3cret\r\n'), Buffer.from('PASS x\r\n')]);
  });
});

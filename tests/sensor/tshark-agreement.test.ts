// phonehome must see in real captures what Debian's tshark sees: the same TCP
// and UDP conversations with the same frames (and bytes) per direction, the
// same DNS query names and the same TLS SNI values. Point
// PHONEHOME_ORACLE_CAPTURES at another directory to check other captures.
import { describe, expect, it } from 'vitest';
import { oracleCaptures } from '../helpers/corpus.js';
import { compareWithTshark, seen } from '../helpers/oracle.js';
import { pool } from '../helpers/tshark.js';

describe('phonehome agrees with tshark on real captures', () => {
  it('conversations, frames per direction, DNS names and SNI match on every capture', async () => {
    const files = oracleCaptures();
    expect(files.length).toBeGreaterThan(0);
    const problems = (await pool(files, 3, compareWithTshark)).flat();
    console.log(`compared ${files.length} captures: ${seen.conversations} conversations, ${seen.dns} DNS queries, ${seen.sni} SNI values, ${seen.communityIds} community ids`);
    // The comparison must have had something to compare.
    expect(seen.conversations).toBeGreaterThan(files.length);
    expect(problems.slice(0, 40), `${problems.length} disagreements over ${files.length} captures`).toEqual([]);
  }, 900_000);
});

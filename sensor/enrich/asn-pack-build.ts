// Run by `npm run build` after the compiler: the embedded AS tables, packed
// into dist/data (or the directory given), so that runs do not parse the CSV.
import { writeAsnPacks } from './asn-table.js';

if (!writeAsnPacks(process.argv[2])) {
  console.error('AS tables not packed: this Node has no zlib.crc32 (20.15 or later); runs will read the CSV');
}

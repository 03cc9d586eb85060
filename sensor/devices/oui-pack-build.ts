// Run by `npm run build` after the compiler: the IEEE registry packed into
// dist/data (or the file given), so that runs do not index the JSON.
import { writeOuiPack } from './oui.js';

if (!writeOuiPack(process.argv[2])) {
  console.error('IEEE registry not packed: this Node has no zlib.crc32 (20.15 or later) or oui-data is unreadable; runs will index the JSON');
}

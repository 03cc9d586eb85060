// Run by `npm run build` after the compiler: the shipped detection settings
// and device profiles, packed into dist/data so that runs do not parse them.
import { writeSettingsPack } from './settings-pack.js';

if (!(await writeSettingsPack())) {
  console.error('settings not packed: the shipped settings do not survive JSON unchanged; runs will read the YAML files');
}

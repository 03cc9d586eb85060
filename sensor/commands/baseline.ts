import { terminalSafe } from '../../contract/escape.js';
import { resetDevices } from '../detect/state.js';
import { UsageError } from '../errors.js';
import { parse } from './args.js';

export const BASELINE_HELP = `Usage: phonehome baseline reset --state DIR (--device MAC ... | --all)

The baselines new-behaviour and abnormal-upload learn are kept in
DIR/baseline.json when analyze or the sensor run with --state DIR (without
--state, learning starts again with every run).

  reset                  forget what was learnt of a device: it is learnt
                         again from its next Internet flow (new-behaviour
                         learns for rules.new-behaviour.learning_s, 24 h of
                         capture time, before it alerts again)
    --state DIR          the folder given to analyze or the sensor as --state
    --device MAC         the device's MAC (or its address, for a capture
                         without link layer); repeatable
    --all                every device
  -h, --help             show this help

Stop a sensor using DIR first: it rewrites the file whenever alerts are asked
for, and would write back what it holds.

Exit codes: 0 done (a device without a baseline is only reported), 2 bad
arguments or a baseline file that cannot be read.

Examples:
  phonehome baseline reset --state /var/lib/phonehome/state --device 00:17:88:24:76:ff
  phonehome baseline reset --state state/ --device 50:c7:bf:00:c7:03 --device 5c:cf:7f:07:ae:fb
  phonehome baseline reset --state state/ --all
`;

const options = {
  state: { type: 'string' },
  device: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A MAC in any case and with - or : separators, as the sensor writes it (lower case, colons); an address as given. */
function deviceKey(v: string): string {
  const mac = v.trim().toLowerCase().replaceAll('-', ':');
  if (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) return mac;
  if (/^[0-9a-fA-F:.]{2,64}$/.test(v.trim()) && /[.:]/.test(v)) return v.trim().toLowerCase();
  throw new UsageError(`--device takes a MAC such as 00:17:88:24:76:ff (or a device's address), got '${v}'`);
}

export async function runBaseline(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v, positionals } = parse(rest, options);
  if (sub === undefined || sub === '--help' || sub === '-h' || v.help) {
    process.stdout.write(BASELINE_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'reset') throw new UsageError(`unknown baseline command '${sub}' (reset; see phonehome baseline --help)`);
  if (positionals.length > 0) throw new UsageError(`baseline reset takes no positional arguments (got '${positionals[0]}')`);
  if (!v.state) throw new UsageError('baseline reset needs --state DIR, the folder analyze or the sensor was given');
  if (!v.all === !v.device) throw new UsageError('baseline reset needs --device MAC (repeatable) or --all, not both');
  const { file, removed } = resetDevices(v.state, v.all ? null : v.device!.map(deviceKey));
  if (v.all) process.stdout.write(`${terminalSafe(file)}: ${removed.size} device(s) forgotten\n`);
  else {
    for (const [device, rules] of removed) {
      process.stdout.write(rules.length ? `${device}: forgotten (${rules.join(', ')})\n` : `${device}: no baseline in ${terminalSafe(file)}\n`);
    }
  }
  return 0;
}

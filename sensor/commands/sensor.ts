import { hostname } from 'node:os';
import { pino, type Level, type Logger } from 'pino';
import { ExitCode } from '../../contract/errors.js';
import { runSensor, type StopRequests } from '../run/sensor.js';
import { UsageError } from '../errors.js';
import { ANALYSIS_OPTIONS, analysisSettings, parse, positiveNumber } from './args.js';

export const SENSOR_HELP = `Usage: phonehome sensor --input SRC --collector URL --token TOKEN [options]

Runs continuously: reads packets, and sends every flow, alert, device update
and alert evidence capture to a phonehome collector. The analysis is the one
of 'phonehome analyze' (same options, same flows, same alert ids).

Input (--input SRC):
  -                      a pcap stream on stdin (tcpdump -i eth0 -U -w -)
  FILE                   one capture file (pcap, pcapng, also .gz)
  DIR                    a directory tcpdump rotates captures into; files are read
                         one by one, in time order, through one pipeline (flows
                         continue across files). A file is read once it is
                         complete: a file named after it (in numeric-aware name
                         order) and modified no earlier exists, or its size has
                         not changed for --settle seconds. Files read are
                         remembered in the spool (state.json) across restarts;
                         a classic pcap that grows after it was read is read on
                         from where reading stopped, any other changed file is
                         read again whole (tcpdump -W reusing names). Only the
                         directory's own files count; dot files and files that
                         are not captures are skipped.
A file or stdin ends at its end: the sensor then waits until the collector has
taken everything (--once: until --drain-timeout seconds pass with no
batch accepted) and exits. A
directory is watched until SIGTERM.

Options:
  --input SRC            what to read (above)
  --collector URL        collector base URL; batches are POSTed to URL/api/v1/events
  --token TOKEN          the sensor's bearer token [$PHONEHOME_TOKEN]
  --name NAME            sensor name sent with every batch [host name]
  --once                 read what is there (a directory: every file now in it,
                         complete or not), deliver, exit; exit 1 if batches had
                         to stay in the spool because the collector was unreachable
  --settle S             seconds a file's size must stay unchanged to be complete [10]
  --spool DIR            on-disk queue of batches not yet accepted [./phonehome-spool]
  --spool-max-mb N       spool size bound; when full, reading pauses [512]
  --drain-timeout S      at exit (--once, SIGTERM): give up delivering after this
                         many seconds without a batch accepted, leaving the
                         rest in the spool for the next run [60]
  --metrics-port P       serve Prometheus metrics on /metrics (0: any free port) [off]
  --metrics-host H       address the metrics endpoint binds [127.0.0.1]
  --log-level L          trace, debug, info, warn, error, fatal [info]; JSON logs on stderr
  -h, --help             show this help

Analysis (as for 'phonehome analyze'):
  --profiles DIR         device profiles (YAML or MUD .json) [the shipped rules/devices]
  --no-profiles          use no device profiles
  --detections FILE      detection settings [the shipped rules/detections.yaml]
  --geoip FILE           a MaxMind DB (Country, City or ASN); repeatable
  --watch-countries LIST countries whose destinations raise geo-callback alerts (CN,HK,RU)
  --local-networks LIST  networks that are local besides the private, link-local, CGNAT
                         and ULA ranges, e.g. a public /24 or an IPv6 /64 (192.0.2.0/24,2001:db8:1::/64)
  --max-flows N          live flows kept before the oldest is evicted [500000]
  --max-devices N        devices tracked at once; past it the least recently
                         seen are evicted and still reported [50000]
  --max-alerts N         alerts itemised per run; past it further alerts are
                         counted in one roll-up alert per rule [10000]
  --tcp-timeout S        idle seconds before a TCP flow ends [300]
  --udp-timeout S        idle seconds before a UDP flow ends [60]
  --other-timeout S      idle seconds before other flows end [30]

What is sent (each event has a key; the collector keeps each key once):
  flow      every flow as it ends                     flow:<uid>
  alert     when it first fires, and again whenever   alert:<id>:<evidence.flows>
            it holds more flows (final evidence at the end)
  device    inventory records that changed, after each file and at exit
            (stdin: every minute and at exit)         device:<mac or ip>:<last_seen>:<flows>
  evidence  a pcap of an alert's flows, once per alert
            (file and directory inputs only)          evidence:<alert id>
Beacons and strobes are scored over everything read so far at the end of each
file of a directory, and at exit (for stdin and one file: only at exit). With
--once they are scored once, at the end, exactly as 'analyze' scores them.

Delivery: batches (500 events, 1 MiB or 1 s) are written to the spool first
(DIR/queue/<sequence>.json, fsynced) and removed only after the collector
answers 2xx, oldest first, also after a restart. Unreachable, 5xx, 429, 401, 403 and 404
are retried with exponential backoff (0.5 s doubling to 30 s, full jitter);
400, 413, 415 and 422 mean the batch can never be taken: it is moved to
DIR/rejected/ and logged. A full spool is logged as an error and reading
pauses until the collector takes batches again: nothing is dropped (a paused
stdin makes tcpdump block, and the kernel may then drop packets, which tcpdump
reports). Flows still open when the process is killed (SIGKILL, a crash) are
lost; everything already spooled is not. One sensor per spool directory.

SIGTERM/SIGINT: stop reading, end every live flow, score beacons, spool
everything, deliver until --drain-timeout seconds pass without progress, exit 0.

Exit codes: 0 done (or stopped by a signal), 1 --once left batches in the spool
or an input had a corrupt record, 2 bad arguments, configuration or input.

Examples:
  tcpdump -i eth0 -U -w - | phonehome sensor --input - --collector http://collector:8080 --token "$TOKEN"
  tcpdump -i eth0 -G 300 -w '/var/spool/pcap/%s.pcap' &
  phonehome sensor --input /var/spool/pcap --collector https://phonehome.example --token "$TOKEN" --metrics-port 9464
  phonehome sensor --input capture.pcap --collector http://127.0.0.1:8080 --token "$TOKEN" --once
`;

const options = {
  input: { type: 'string' },
  collector: { type: 'string' },
  token: { type: 'string' },
  name: { type: 'string' },
  once: { type: 'boolean' },
  settle: { type: 'string' },
  spool: { type: 'string' },
  'spool-max-mb': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'log-level': { type: 'string' },
  ...ANALYSIS_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

const LEVELS: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function collectorUrl(v: string | undefined): string {
  if (!v) throw new UsageError('sensor needs --collector URL (see phonehome sensor --help)');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`--collector must be an http:// or https:// URL, got '${v}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--collector must be an http:// or https:// URL, got '${v}'`);
  return v;
}

function port(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`--metrics-port must be a port number (0-65535), got '${v}'`);
  return n;
}

/** JSON lines on stderr, written synchronously: a second signal exits at once and must not lose them. */
function sensorLog(name: string, level: Level): Logger {
  return pino({ level, base: { sensor: name }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

/**
 * SIGTERM and SIGINT while the sensor runs: the first asks it to stop (it
 * still flushes, spools and delivers); a second one exits at once, for an
 * operator who will not wait for the drain.
 */
function signalStops(log: Logger): StopRequests {
  return {
    listen(onStop) {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.error({ signal }, 'second signal: exiting at once; spooled batches stay for the next run, events not yet spooled are lost');
          process.exit(ExitCode.PARTIAL);
        }
        stopping = true;
        onStop(signal);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      return () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      };
    },
  };
}

export async function runSensorCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    process.stdout.write(SENSOR_HELP);
    return ExitCode.OK;
  }
  if (positionals.length > 0) throw new UsageError(`sensor takes no positional arguments (got '${positionals[0]}'); the input is --input SRC`);
  if (!v.input) throw new UsageError("sensor needs --input SRC: '-' for stdin, a capture file or a directory (see phonehome sensor --help)");
  const collector = collectorUrl(v.collector);
  const token = v.token ?? env.PHONEHOME_TOKEN;
  if (!token) throw new UsageError('sensor needs --token TOKEN (or PHONEHOME_TOKEN in the environment)');
  const logLevel = (v['log-level'] ?? 'info') as Level;
  if (!LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got '${v['log-level']}'`);
  if (v.name !== undefined && !/^[\w.:@-]{1,128}$/.test(v.name)) throw new UsageError(`--name must be 1-128 letters, digits or . _ - : @, got '${v.name}'`);
  const name = v.name ?? hostname();
  const log = sensorLog(name, logLevel);
  try {
    return await runSensor({
      input: v.input,
      collector,
      token,
      name,
      once: v.once ?? false,
      settleS: positiveNumber('settle', v.settle) ?? 10,
      spoolDir: v.spool ?? 'phonehome-spool',
      spoolMaxBytes: (positiveNumber('spool-max-mb', v['spool-max-mb']) ?? 512) * 1024 * 1024,
      drainTimeoutS: positiveNumber('drain-timeout', v['drain-timeout']) ?? 60,
      metricsPort: port(v['metrics-port']),
      metricsHost: v['metrics-host'] ?? '127.0.0.1',
      log,
      stop: signalStops(log),
      ...analysisSettings(v),
    });
  } finally {
    log.flush();
  }
}

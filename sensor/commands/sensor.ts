import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pino, type Level, type Logger } from 'pino';
import { ExitCode } from '../../contract/errors.js';
import { runSensor, type StopRequests } from '../run/sensor.js';
import { UsageError } from '../errors.js';
import { ANALYSIS_OPTIONS, analysisSettings, parse, nonNegativeNumber, positiveNumber } from './args.js';
import { jsonSafe } from '../../contract/escape.js';

export const SENSOR_HELP = `Usage: phonehome sensor --input SRC --collector URL --token-file FILE [options]
       phonehome sensor --resend-rejected --collector URL --token-file FILE [--spool DIR]

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
                         read again whole (tcpdump -W reusing names). Folders
                         and links are followed as analyze follows them; dot
                         files, the spool and files that are not captures are
                         skipped.
A file or stdin ends at its end: the sensor then waits until the collector has
taken everything (--once: until --drain-timeout seconds pass with no
batch accepted) and exits. A
directory is watched until SIGTERM.

Options:
  --input SRC            what to read (above)
  --collector URL        collector base URL; batches are POSTed to URL/api/v1/events
  --token-file FILE      read the sensor's bearer token from FILE (one line)
  --token TOKEN          the token itself (visible in ps: prefer --token-file or
                         PHONEHOME_TOKEN in the environment) [$PHONEHOME_TOKEN]
  --ca FILE              PEM certificate(s) of a private CA to trust for an
                         https:// collector, besides the system's
  --name NAME            sensor name sent with every batch [host name]
  --once                 read what is there (a directory: every file now in it,
                         complete or not), deliver, exit; exit 1 if batches had
                         to stay in the spool because the collector was unreachable,
                         or if events were refused
  --resend-rejected      first move every batch of the spool's rejected/ folder
                         back into the queue (in order) and deliver it again;
                         without --input: deliver the spool, then exit
  --settle S             seconds a file's size must stay unchanged to be complete [10]
  --spool DIR            on-disk queue of batches not yet accepted [./phonehome-spool]
  --spool-max-mb N       spool size bound (batches and evidence captures being
                         cut); when full, reading pauses [512]
  --drain-timeout S      at exit (--once, SIGTERM): give up delivering after this
                         many seconds without a batch accepted, leaving the
                         rest in the spool for the next run; with --once also
                         while reading, when the spool takes nothing [60]
  --rebuild-max-mb N     a directory sensor that did not stop cleanly (killed,
                         crashed) first reads again, sending nothing, up to this
                         many MiB of the files it read since its last clean
                         stop, so flows and alerts in progress continue as if
                         it had not stopped (0: never) [1024]
  --metrics-port P       serve Prometheus metrics on /metrics (0: any free port) [off]
  --metrics-host H       address the metrics endpoint binds [127.0.0.1]
  --log-level L          trace, debug, info, warn, error, fatal [info]; JSON logs on stderr
  -h, --help             show this help

Analysis (as for 'phonehome analyze'):
  --profiles DIR         device profiles (YAML or MUD .json) [the shipped rules/devices]
  --no-profiles          use no device profiles
  --detections FILE      detection settings [the shipped rules/detections.yaml]
  --geoip FILE           a MaxMind DB (Country, City or ASN); repeatable
  --intel FILE           a threat-intel feed (plain list, Zeek intel file or CSV with
                         a header); repeatable; read again when the file changes
                         (checked after each file and every 10 s; a version that
                         cannot be used is logged and the old indicators stay)
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
  --state DIR            keep what new-behaviour and abnormal-upload learn of each
                         device in DIR/baseline.json across restarts (written
                         whenever alerts are asked for: after each file, at exit);
                         without it they learn afresh at every start.
                         One sensor per folder

What is sent (each event has a key; the collector keeps each key once):
  flow      every flow as it ends                     flow:<uid>
  alert     when it first fires, and again whenever   alert:<id>:<evidence.flows>
            it holds more flows (final evidence at    (then :<packets lacking> when
            the end) or its evidence pcap lacks more  its evidence pcap lacks some)
  device    inventory records that changed, after each file and at exit
            (stdin: every minute and at exit)         device:<mac or ip>:<last_seen>:<flows>
  evidence  a pcap of an alert's flows (at most 5 MiB),  evidence:<alert id>:<flows kept>
            again when it keeps more flows
            (file and directory inputs only)
Beacons and strobes are scored over everything read so far at the end of each
file of a directory, and at exit (for stdin and one file: only at exit). With
--once they are scored once, at the end, exactly as 'analyze' scores them.

Delivery: batches (500 events, 1 MiB or 1 s) are written to the spool first
(DIR/queue/<sequence>.json, with a sha256 line, fsynced) and removed only
after the collector answers 2xx, oldest first, also after a restart.
Unreachable, 5xx, 429, 401, 403 and 404 are retried with exponential backoff
(0.5 s doubling to 30 s, full jitter). Events the collector refuses (listed in
its answer, or a whole batch answered 400, 415, 422) are logged at error with
each reason, counted, and kept with their reasons in DIR/rejected/<sequence>.json;
a batch answered 413 is sent again as two halves. A spool file whose sha256
does not match is logged with its path; its events still whole are sent and the
original is kept as DIR/rejected/<sequence>.garbled. A full spool, or a full
disk under it, is logged as an error and reading pauses until there is room:
nothing is dropped (a paused stdin makes tcpdump block, and the kernel may then
drop packets, which tcpdump reports). Everything spooled survives a kill
(SIGKILL, a crash); a directory sensor restarted after one first reads again,
sending nothing, what it read since its last clean stop (--rebuild-max-mb), so
flows and alerts in progress continue under the same ids. Flows open when a
stdin sensor is killed are lost. One sensor per spool directory.

SIGTERM/SIGINT: stop reading, end every live flow, score beacons, spool
everything, deliver until --drain-timeout seconds pass without progress, exit.
A second signal exits at once.

Exit codes: 0 done (or stopped by a signal) with every event delivered or
spooled, 1 events were refused or lost (kept in DIR/rejected/), --once left
batches in the spool, or an input had a corrupt record, 2 bad arguments,
configuration or input.

Examples:
  tcpdump -i eth0 -U -w - | phonehome sensor --input - --collector http://collector:8080 --token-file /etc/phonehome/token
  tcpdump -i eth0 -G 300 -w '/var/spool/pcap/%s.pcap' &
  phonehome sensor --input /var/spool/pcap --collector https://phonehome.example --token-file /etc/phonehome/token --metrics-port 9464
  phonehome sensor --input /var/spool/pcap --collector http://collector:8080 --token-file /etc/phonehome/token --state /var/lib/phonehome/state
  PHONEHOME_TOKEN="$TOKEN" phonehome sensor --input capture.pcap --collector http://127.0.0.1:8080 --once
  phonehome sensor --input /var/spool/pcap --collector https://collector.lab:8443 --ca /etc/phonehome/lab-ca.pem --token-file /etc/phonehome/token
  phonehome sensor --input /var/spool/pcap --collector http://collector:8080 --token-file /etc/phonehome/token --intel /var/lib/phonehome/intel/feodo.csv --intel /var/lib/phonehome/intel/threatfox.csv
  phonehome sensor --resend-rejected --collector http://collector:8080 --token-file /etc/phonehome/token --spool /var/lib/phonehome/spool
`;

const options = {
  input: { type: 'string' },
  collector: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  'resend-rejected': { type: 'boolean' },
  name: { type: 'string' },
  once: { type: 'boolean' },
  settle: { type: 'string' },
  spool: { type: 'string' },
  'spool-max-mb': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'rebuild-max-mb': { type: 'string' },
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
  // A password in the URL would reach logs and ps; the token has its own ways in.
  if (u.username || u.password) throw new UsageError('--collector must not carry a user or password; the sensor authenticates with --token-file, $PHONEHOME_TOKEN or --token');
  return v;
}

/** The sensor's token: --token, --token-file or $PHONEHOME_TOKEN (the last two keep it out of ps). */
function sensorToken(v: { token?: string; 'token-file'?: string }, env: NodeJS.ProcessEnv): string {
  if (v.token !== undefined && v['token-file'] !== undefined) throw new UsageError('give the token once: --token or --token-file, not both');
  let token = v.token;
  if (v['token-file'] !== undefined) {
    const file = v['token-file'];
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--token-file ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!token) throw new UsageError(`--token-file ${file}: the file is empty; it should hold the sensor's token on one line`);
    if (/\s/.test(token)) throw new UsageError(`--token-file ${file}: expected the token alone on one line, found whitespace inside it`);
  }
  token ??= env.PHONEHOME_TOKEN;
  if (!token) throw new UsageError('sensor needs a token: --token-file FILE, PHONEHOME_TOKEN in the environment, or --token TOKEN');
  return token;
}

/** --ca FILE: PEM certificates trusted for an https collector, besides the system's. */
function caFile(file: string | undefined, collector: string): Buffer | undefined {
  if (file === undefined) return undefined;
  if (!collector.startsWith('https:')) throw new UsageError(`--ca applies to an https:// collector, and --collector is ${collector}`);
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (e) {
    throw new UsageError(`--ca ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca ${file}: expected PEM certificates (-----BEGIN CERTIFICATE-----)`);
  return pem;
}

function port(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`--metrics-port must be a port number (0-65535), got '${v}'`);
  return n;
}

/** Fields that could carry the token, wherever a log line might put them. */
export const REDACT = ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'opts.token', '*.opts.token'];

/**
 * JSON lines on stderr, written synchronously: a second signal exits at once
 * and must not lose them. C1 and DEL from the wire are escaped too (pino
 * leaves them raw, and a terminal acts on them).
 */
function sensorLog(name: string, level: Level): Logger {
  return pino({ level, base: { sensor: name }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACT, censor: '[redacted]' }, hooks: { streamWrite: jsonSafe } }, pino.destination({ dest: 2, sync: true }));
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
  const resend = v['resend-rejected'] ?? false;
  if (!v.input && !resend) throw new UsageError("sensor needs --input SRC: '-' for stdin, a capture file or a directory (see phonehome sensor --help)");
  const collector = collectorUrl(v.collector);
  const token = sensorToken(v, env);
  const ca = caFile(v.ca, collector);
  const logLevel = (v['log-level'] ?? 'info') as Level;
  if (!LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got '${v['log-level']}'`);
  if (v.name !== undefined && !/^[\w.:@-]{1,128}$/.test(v.name)) throw new UsageError(`--name must be 1-128 letters, digits or . _ - : @, got '${v.name}'`);
  const name = v.name ?? hostname();
  const log = sensorLog(name, logLevel);
  try {
    return await runSensor({
      input: v.input ?? null,
      collector,
      token,
      ca,
      resendRejected: resend,
      name,
      // Nothing to read: deliver what the spool holds, then exit.
      once: (v.once ?? false) || !v.input,
      settleS: positiveNumber('settle', v.settle) ?? 10,
      spoolDir: v.spool ?? 'phonehome-spool',
      spoolMaxBytes: (positiveNumber('spool-max-mb', v['spool-max-mb']) ?? 512) * 1024 * 1024,
      drainTimeoutS: positiveNumber('drain-timeout', v['drain-timeout']) ?? 60,
      rebuildMaxBytes: (nonNegativeNumber('rebuild-max-mb', v['rebuild-max-mb']) ?? 1024) * 1024 * 1024,
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

#!/usr/bin/env node
import { ExitCode, isPhonehomeError } from '../contract/errors.js';
import { UsageError } from './errors.js';
import { terminalSafe, terminalSafeLines } from '../contract/escape.js';

const MAIN_HELP = `phonehome: what your connected devices really do on the network

Usage: phonehome <command> [options]

Commands:
  analyze    read captures; print devices, destinations, flows and alerts
  profiles   check, import (RFC 8520 MUD) and draft device profiles
  baseline   reset the learnt baselines of devices in a --state folder
  sensor     run continuously (stdin, file or rotated directory); send to a collector
  collector  receive, store and serve sensors' events; metrics and Alertmanager
  demo       replay sample IoT captures through a local sensor and collector (npm start)

Run 'phonehome <command> --help' for a command's options.
Example: phonehome analyze capture.pcap --out results/
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Commands load on demand: the collector's server stack costs a third of a second to import.
    case 'analyze':
      return (await import('./commands/analyze.js')).runAnalyze(rest);
    case 'profiles':
      return (await import('./commands/profiles.js')).runProfiles(rest);
    case 'baseline':
      return (await import('./commands/baseline.js')).runBaseline(rest);
    case 'sensor': {
      const code = await (await import('./commands/sensor.js')).runSensorCommand(rest);
      // Everything is delivered or spooled by now; a live pipe on stdin (tcpdump still
      // writing) must not keep the process alive past a stop.
      process.exit(code);
    }
    case 'collector':
      return (await import('../collector/command.js')).runCollector(rest);
    case 'demo':
      return (await import('./commands/demo.js')).runDemo(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(MAIN_HELP);
      return command === undefined ? ExitCode.USAGE : ExitCode.OK;
    default:
      throw new UsageError(`unknown command '${command}' (commands: analyze, profiles, baseline, sensor, collector, demo; see phonehome --help)`);
  }
}

// A reader that went away (`phonehome analyze ... | head`) is not an error: stop quietly, as other tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(ExitCode.OK);
});

// The edge: an error a user can fix is one line and its exit code; anything else is a bug, with its stack.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (isPhonehomeError(e)) {
      // Messages quote what they refused: a file name, a value from a capture or a profile.
      process.stderr.write(`phonehome: ${terminalSafe(e.message)}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`phonehome: internal error: ${terminalSafeLines(String((e as Error)?.stack ?? e))}\n`);
      process.exitCode = ExitCode.INTERNAL;
    }
  },
);

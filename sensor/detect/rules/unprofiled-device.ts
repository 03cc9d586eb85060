import { deviceLabel, type Rule } from '../rule.js';

/**
 * A device reaching the Internet that no profile covers: one alert per device
 * and run (not per suppression window: that the device lacks a profile does not
 * change from one day to the next), counting every Internet flow it opened.
 */
export const unprofiledDevice: Rule = {
  id: 'unprofiled-device',
  summary: 'a device talks to the Internet but no profile covers it (by MAC, OUI, vendor or MUD URL)',
  defaults: { enabled: true, severity: 'low', mitre: ['T1200'], params: {} },
  evidence: [],
  create: ({ raise }) => ({
    flow(j) {
      if (j.profile) return;
      raise(j, {
        key: '',
        destination: () => null,
        message: () => `${deviceLabel(j.device)} talks to the Internet but no device profile covers it`,
        reason: () => 'no profile matches its MAC, OUI, vendor or MUD URL',
        windowS: Infinity,
      });
    },
  }),
};

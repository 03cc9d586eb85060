import { deviceLabel, type Rule } from '../rule.js';

/** So many connections to one destination that they are a strobe, not a beacon; claims the series from beaconing. */
export const strobe: Rule<{ min_connections: number }> = {
  id: 'strobe',
  summary: 'a device connects to one destination so often (10,000 times by default) that it is a strobe, not a beacon',
  defaults: { enabled: true, severity: 'low', mitre: ['T1071'], params: { min_connections: 10000 } },
  evidence: ['connections'],
  create: ({ settings, raiseSeries }) => ({
    series(s) {
      const n = s.totals.flows;
      if (n < settings.params.min_connections) return false;
      raiseSeries(s, `${deviceLabel(s.device)} connected to ${s.name ?? s.dstIp} ${n} times: a strobe, too frequent to be a beacon`, `${n} connections`, { connections: n });
      return true;
    },
  }),
};

import { deviceLabel, destinationOf, type Rule } from '../rule.js';

/** A connection to an address no DNS answer gave the device: a hard-coded address. */
export const directIp: Rule<{ ignore_ports: number[] }> = {
  id: 'direct-ip',
  summary: 'a device connects to an address it never resolved through DNS (a hard-coded address)',
  // Resolvers are configured by address: DNS and DNS over TLS are not hard-coded callbacks.
  defaults: { enabled: true, severity: 'medium', mitre: ['T1071', 'T1568'], params: { ignore_ports: [53, 853] } },
  evidence: [],
  create: ({ settings, profiles, raise }) => ({
    flow(j) {
      const f = j.flow;
      if ((f.proto !== 'tcp' && f.proto !== 'udp') || settings.params.ignore_ports.includes(f.dst_port)) return;
      if (f.dns_name !== null || j.resolved) return;
      // An address the profile documents by CIDR is expected to be hard-coded.
      if (j.profile && profiles.documents(j.profile, f)?.cidr) return;
      raise(j, {
        key: f.dst_ip,
        destination: () => destinationOf(j, f.sni ?? f.http_host, true),
        message: () => `${deviceLabel(j.device)} connected to ${f.dst_ip}:${f.dst_port}/${f.proto} without resolving it through DNS (a hard-coded address)`,
        reason: () => `no DNS answer gave ${f.dst_ip} to ${f.src_ip} before the connection`,
      });
    },
  }),
};

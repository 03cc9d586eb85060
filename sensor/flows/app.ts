/**
 * What a flow's payloads showed beyond the names flows.jsonl carries: facts
 * detection rules read (DNS questions and their outcome, and what later
 * parsers add). Kept on the flow while it lives, handed to detection with its
 * record, never written to flows.jsonl. Bounded per flow: a hostile device
 * controls every byte of it.
 */
export interface AppFacts {
  /** DNS questions the flow carried, in order, at most MAX_DNS_FACTS */
  dns?: DnsFact[];
  /** credentials its initiator sent in clear, in order, at most MAX_CREDENTIAL_FACTS */
  credentials?: CredentialFact[];
  /** port mappings its initiator asked a gateway for, in order, at most MAX_PORT_MAPPING_FACTS */
  portMappings?: PortMappingFact[];
  /**
   * Flows no local host opened (an Internet host did): which sides sent
   * payload, 1 the initiator, 2 the responder, 3 both. A session the local
   * device accepted exchanges data; a handshake alone, or a banner nobody
   * answers, does not.
   */
  payload?: number;
}

/**
 * Credentials a flow's initiator sent where anyone on the path reads them.
 * The password itself is never kept: only that one was sent and its length.
 */
export interface CredentialFact {
  ts: number;
  protocol: 'telnet' | 'ftp' | 'http-basic' | 'http-digest' | 'mqtt';
  /** the user name as sent (escaped, bounded by its parser); null when none was sent or seen */
  user: string | null;
  /** a password was sent (HTTP Digest: a hash of one) */
  password: boolean;
  /** its length in bytes (Telnet: characters typed); null when unknown or not sent in clear (HTTP Digest) */
  passwordLength: number | null;
}

/** A request to a gateway to forward a port from outside to a local host. */
export interface PortMappingFact {
  ts: number;
  method: 'upnp' | 'nat-pmp' | 'pcp';
  /** 'tcp', 'udp', 'all' (PCP protocol 0), or what the request named (escaped); null when unreadable */
  protocol: string | null;
  /** the external port asked for; 0: any the gateway chooses */
  externalPort: number | null;
  /** the host the port should reach, as the request names it (NAT-PMP: the sender) */
  internalClient: string | null;
  internalPort: number | null;
  /** lifetime asked for, in seconds (UPnP: 0 asks for a mapping without expiry) */
  leaseS: number | null;
  /** UPnP's NewPortMappingDescription (escaped, bounded) */
  description: string | null;
}

/** One DNS question on a flow and, once its response was seen, how it was answered. */
export interface DnsFact {
  ts: number;
  /** the name asked for, as the message spelt it (lower-cased, escaped by the DNS parser) */
  query: string;
  /** A, AAAA, TXT, NULL, ...; null for a type the parser does not name */
  qtype: string | null;
  /** the response's RCODE (3: NXDOMAIN); null while no response was seen */
  rcode: number | null;
  /** answer records in the response */
  answers: number;
}

/**
 * DNS questions kept per flow: a resolver flow reused for thousands of
 * queries keeps its first ones. Enough for one socket of a DNS tunnel (iodine
 * and dnscat2 ask every question from one port: one flow) to show the
 * hundred-odd distinct names dns-tunnel counts; each fact costs no more than
 * the packets that carried it.
 */
export const MAX_DNS_FACTS = 256;

/** A response completes one of the last this many questions of its flow (resolvers answer in order, give or take a few). */
const MATCH_BACK = 32;

/** Records a DNS message on its flow: a question adds a fact, a response completes the question it answers. */
export function addDnsFact(app: AppFacts, ts: number, query: string, qtype: string | null, isResponse: boolean, rcode: number, answers: number): void {
  const list = (app.dns ??= []);
  if (isResponse) {
    for (let i = list.length - 1, stop = Math.max(0, list.length - MATCH_BACK); i >= stop; i--) {
      const q = list[i];
      if (q.rcode === null && q.query === query) {
        q.rcode = rcode;
        q.answers = answers;
        return;
      }
    }
  }
  // A response whose question was not seen (capture started mid-way) still says how the name was answered.
  if (list.length < MAX_DNS_FACTS) list.push({ ts, query, qtype, rcode: isResponse ? rcode : null, answers: isResponse ? answers : 0 });
}


/** Credentials kept per flow: a brute-force session keeps its first attempts. */
export const MAX_CREDENTIAL_FACTS = 16;
/** Port mapping requests kept per flow (retransmissions of one request count once). */
export const MAX_PORT_MAPPING_FACTS = 16;

/** Records credentials sent on the flow; returns the fact kept (null past the bound). */
export function addCredential(app: AppFacts, fact: CredentialFact): CredentialFact | null {
  const list = (app.credentials ??= []);
  if (list.length >= MAX_CREDENTIAL_FACTS) return null;
  list.push(fact);
  return fact;
}

/**
 * A password sent after its user name (FTP's PASS after USER): completes the
 * last credential of that protocol still waiting for one, or records one
 * without a user name.
 */
export function addPassword(app: AppFacts, ts: number, protocol: CredentialFact['protocol'], passwordLength: number): void {
  const list = app.credentials ?? [];
  for (let i = list.length - 1; i >= 0; i--) {
    const c = list[i];
    if (c.protocol !== protocol) continue;
    if (c.password) break;
    c.password = true;
    c.passwordLength = passwordLength;
    return;
  }
  addCredential(app, { ts, protocol, user: null, password: true, passwordLength });
}

/** Records a port mapping request on the flow unless the flow already asked for the same; returns the fact kept. */
export function addPortMapping(app: AppFacts, fact: PortMappingFact): PortMappingFact | null {
  const list = (app.portMappings ??= []);
  const same = list.find((m) => m.method === fact.method && m.protocol === fact.protocol && m.externalPort === fact.externalPort && m.internalClient === fact.internalClient && m.internalPort === fact.internalPort && m.leaseS === fact.leaseS);
  if (same) return same;
  if (list.length >= MAX_PORT_MAPPING_FACTS) return null;
  list.push(fact);
  return fact;
}

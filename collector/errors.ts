// Every error the collector reports to a person or a program, with its stable
// code, the exit code of `phonehome collector` and the HTTP status a route
// answers with. Messages are made here from each error's fields; server.ts's
// error handler only sends them.
import { PhonehomeError } from '../contract/errors.js';

/** A flag, environment variable or config-file setting the collector cannot start with. */
export class CollectorConfigError extends PhonehomeError {
  override readonly name = 'CollectorConfigError';
  readonly code = 'COLLECTOR_CONFIG';
  // Settings are read before the server listens; reaching a route would be a bug.
  override readonly httpStatus = 500;
}

export type StoreErrorCode = 'BAD_URL' | 'UNREACHABLE' | 'MIGRATION' | 'BAD_CURSOR' | 'BAD_EVENT';

const STORE_HTTP_STATUS: Record<StoreErrorCode, number> = {
  BAD_URL: 500,
  UNREACHABLE: 503,
  MIGRATION: 500,
  // What a client sent: a cursor it made up, or an event the schema refuses.
  BAD_CURSOR: 400,
  BAD_EVENT: 400,
};

/**
 * The database refused or failed. BAD_URL: the database URL names no
 * supported database. UNREACHABLE: it cannot be opened or connected to.
 * MIGRATION: the schema cannot be brought up to date (or is newer than this
 * collector). BAD_CURSOR: listAlerts got a cursor it did not issue.
 * BAD_EVENT: ingest got an event the schema refuses; the whole batch was
 * rolled back.
 */
export class StoreError extends PhonehomeError {
  override readonly name = 'StoreError';
  override readonly httpStatus: number;
  constructor(
    readonly code: StoreErrorCode,
    readonly detail: string,
  ) {
    super(detail);
    this.httpStatus = STORE_HTTP_STATUS[code];
  }
}

/** The request carries no valid bearer token of the kind the route needs. */
export class UnauthorizedError extends PhonehomeError {
  override readonly name = 'UnauthorizedError';
  readonly code = 'UNAUTHORIZED';
  override readonly httpStatus = 401;
  /** the authentication scheme a client should retry with (WWW-Authenticate) */
  readonly challenge = 'Bearer';
  constructor(readonly tokenKind: string) {
    super(`a valid ${tokenKind} token is required (Authorization: Bearer <token>)`);
  }
}

/** An API token whose role does not allow what the request asks. */
export class ForbiddenError extends PhonehomeError {
  override readonly name = 'ForbiddenError';
  readonly code = 'FORBIDDEN';
  override readonly httpStatus = 403;
  constructor(
    readonly tokenName: string,
    readonly role: string,
    readonly needed: string,
    readonly action: string,
  ) {
    super(`API token '${tokenName}' has role ${role}; ${action} needs ${needed}`);
  }
}

/**
 * With --tls-client-ca, a sensor delivering without a client certificate
 * signed by that CA. 403 rather than 401: no bearer token fixes it, and
 * sensors keep the batch and retry either way.
 */
export class ClientCertificateError extends PhonehomeError {
  override readonly name = 'ClientCertificateError';
  readonly code = 'CLIENT_CERT_REQUIRED';
  override readonly httpStatus = 403;
  constructor(readonly reason: string) {
    super(`sensors must present a client certificate signed by the collector's --tls-client-ca (${reason})`);
  }
}

/** A querystring time that is neither epoch seconds nor ISO 8601. */
export class BadTimeError extends PhonehomeError {
  override readonly name = 'BadTimeError';
  readonly code = 'BAD_TIME';
  override readonly httpStatus = 400;
  constructor(
    readonly parameter: string,
    readonly value: string,
  ) {
    super(`querystring/${parameter} must be epoch seconds or an ISO 8601 time, got '${value}'`);
  }
}

/** What a 404 names: its code and its message. The evidence capture may be missing while its alert exists. */
const NOT_FOUND = {
  alert: { code: 'ALERT_NOT_FOUND', message: (id: string) => `no alert ${id}` },
  evidence: { code: 'EVIDENCE_NOT_FOUND', message: (id: string) => `no evidence capture for alert ${id}` },
  device: { code: 'DEVICE_NOT_FOUND', message: (id: string) => `no device ${id}` },
  mute: { code: 'MUTE_NOT_FOUND', message: (id: string) => `no mute ${id} in force` },
} as const;

/** A route found no alert, evidence capture, device or mute in force under the id asked for. */
export class NotFoundError extends PhonehomeError {
  override readonly name = 'NotFoundError';
  readonly code: (typeof NOT_FOUND)[keyof typeof NOT_FOUND]['code'];
  override readonly httpStatus = 404;
  constructor(
    readonly what: keyof typeof NOT_FOUND,
    readonly id: string,
  ) {
    super(NOT_FOUND[what].message(id));
    this.code = NOT_FOUND[what].code;
  }
}

/**
 * /readyz found the database unreachable. Its answer is a readiness report
 * (status, db, message) rather than the usual error body, so orchestrators
 * and people read the same thing.
 */
export class DatabaseNotReadyError extends PhonehomeError {
  override readonly name = 'DatabaseNotReadyError';
  readonly code = 'DB_NOT_READY';
  override readonly httpStatus = 503;
  constructor(
    readonly db: 'sqlite' | 'postgres',
    reason: string,
  ) {
    super(reason);
  }
}

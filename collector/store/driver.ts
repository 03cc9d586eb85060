// What the shared Store code needs from a database. SQLite and PostgreSQL
// each implement it once; everything above it is written once for both.

export type Row = Record<string, unknown>;

export interface Queryable {
  all<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** returns the number of rows changed */
  run(sql: string, params?: unknown[]): Promise<number>;
}

/** Runs one migration's statements atomically. */
export type MigrationStep = (apply: () => Promise<void>) => Promise<void>;

export interface Driver {
  readonly kind: 'sqlite' | 'postgres';
  /** names the database in messages, without credentials: a file path, or host:port/database */
  readonly name: string;
  /** runs fn with a connection that sees committed data only */
  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** runs fn in one transaction; fn may be run again when the database asks for a retry */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs fn while no other collector can migrate this database; `step`
   * makes one migration atomic. Throws StoreError UNREACHABLE when it
   * cannot get a connection.
   */
  exclusive<T>(fn: (q: Queryable, step: MigrationStep) => Promise<T>): Promise<T>;
  /** true when the database refused a value (constraint, type), as opposed to failing */
  isDataError(e: unknown): boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
}

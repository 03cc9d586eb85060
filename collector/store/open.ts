import { StoreError } from '../errors.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Store } from './store.js';

/** The URL with any password replaced, for error messages that end up in logs. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/i, '$1***@');
}

/** The SQLite file a URL names, or null when it is not a SQLite URL. */
export function sqlitePath(url: string): string | null {
  if (/^sqlite:\/\//i.test(url)) return url.slice('sqlite://'.length);
  if (/^sqlite:/i.test(url)) return url.slice('sqlite:'.length);
  // A bare path is convenient on the command line; anything with a scheme is not one.
  if (/\.db$/i.test(url) && !/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  return null;
}

/**
 * Opens the store a database URL names and brings its schema up to date:
 * `sqlite:PATH`, `sqlite://PATH` (so `sqlite:///abs/file.db`), a bare
 * `PATH.db`, or `postgres://` / `postgresql://`.
 */
export async function openStore(url: string): Promise<Store> {
  let store: Store;
  if (/^postgres(ql)?:\/\//i.test(url)) {
    store = await openPostgres(url);
  } else {
    const path = sqlitePath(url);
    if (!path) throw new StoreError('BAD_URL', `database URL must be sqlite:PATH or postgres://..., got '${redact(url)}'`);
    store = await openSqlite(path);
  }
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}

/** The error of class `cls` that fn throws; fails if it throws nothing or something else. */
export function errorOf<E extends Error>(cls: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw e;
  }
  throw new Error(`expected a ${cls.name}, nothing was thrown`);
}

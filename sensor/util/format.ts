/**
 * A number as `toLocaleString('en-US')` writes it (thousands separated by
 * commas). Whole numbers are grouped here: the first toLocaleString call
 * loads ICU's number formatting, a tenth of `analyze`'s start-up on an empty
 * capture. Other numbers are left to it.
 */
export function grouped(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? `-${out}` : out;
}

// The rules a ring header must meet, written once as data. A validator
// takes one read of the header's words and rejects with the first rule
// they break; a report judges every rule over the same read, so the CLI
// shows the validators' own field names and rules.

/** A rule with its verdict on one header. */
export interface HeaderRule {
  /** what the validator names when the rule is broken (native/core/ring_error.h's names) */
  field: string;
  /** the header words the rule is about ('ring_bytes' for the v2 size's two words) */
  words: readonly string[];
  /** the rule in words */
  rule: string;
  /** whether the header meets it */
  ok: boolean;
}

/** A rule as written once, over W: one read of a header's words. */
export interface RuleOver<W> {
  field: string;
  /** default: [field] */
  words?: readonly string[];
  /** false when the rule does not apply to this header (a feature it does not use) */
  applies?: (w: W) => boolean;
  rule: string | ((w: W) => string);
  holds: (w: W) => boolean;
}

function applies<W>(r: RuleOver<W>, w: W): boolean {
  return r.applies === undefined || r.applies(w);
}

/** The field of the first rule the words break, in the order written; null when they meet them all. */
export function brokenField<W>(rules: readonly RuleOver<W>[], w: W): string | null {
  for (const r of rules) if (applies(r, w) && !r.holds(w)) return r.field;
  return null;
}

/** Every rule that applies to the words, with its verdict. */
export function judgeRules<W>(rules: readonly RuleOver<W>[], w: W): HeaderRule[] {
  return rules
    .filter((r) => applies(r, w))
    .map((r) => ({ field: r.field, words: r.words ?? [r.field], rule: typeof r.rule === 'string' ? r.rule : r.rule(w), ok: r.holds(w) }));
}

/** The one rule a view shorter than a header breaks. */
export function shortHeader(headerBytes: number): HeaderRule[] {
  return [{ field: 'size', words: [], rule: `at least a header: ${headerBytes} bytes`, ok: false }];
}

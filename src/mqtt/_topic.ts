/**
 * Topic names and filters: the checks made before anything is sent, and the
 * matching that routes a received message to the subscriptions it belongs
 * to (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7 and §4.8.2 for `$share/…`).
 *
 * @module
 */

/** Most bytes a UTF-8 string field of MQTT can hold. */
const MAX_STRING_BYTES = 65535;
const encoder = new TextEncoder();

/** The UTF-8 rules both kinds of topic share; returns the reason, or `undefined`. */
function utf8Problem(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return "contains U+0000";
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return "contains a lone surrogate (not UTF-8)";
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return "contains a lone surrogate (not UTF-8)";
  }
  if (text.length * 3 > MAX_STRING_BYTES && encoder.encode(text).length > MAX_STRING_BYTES) {
    return `is longer than ${MAX_STRING_BYTES} bytes of UTF-8`;
  }
  return undefined;
}

/**
 * Checks a topic name to publish to: not empty, no wildcard, well-formed
 * UTF-8 without U+0000, at most 65535 bytes. Throws a `TypeError` naming the
 * topic and the rule it breaks.
 */
export function checkTopicName(topic: unknown, what = "publish"): asserts topic is string {
  if (typeof topic !== "string") throw new TypeError(`${what}: topic must be a string`);
  if (topic.length === 0) throw new TypeError(`${what}: topic must not be empty`);
  if (topic.includes("+") || topic.includes("#")) {
    throw new TypeError(
      `${what} ${JSON.stringify(topic)}: a topic name must not contain the wildcards + or #`,
    );
  }
  const problem = utf8Problem(topic);
  if (problem) throw new TypeError(`${what} ${JSON.stringify(topic)}: topic ${problem}`);
}

/**
 * Checks a topic filter to subscribe to: levels split on `/`, `+` alone in
 * its level, `#` alone in the last level, the UTF-8 rules, and for a shared
 * subscription `$share/<group>/<filter>` a group name without `/`, `+` or
 * `#` followed by a filter that is itself valid.
 */
export function checkTopicFilter(filter: unknown, what = "subscribe"): asserts filter is string {
  if (typeof filter !== "string") throw new TypeError(`${what}: filter must be a string`);
  const bad = (rule: string) =>
    new TypeError(`${what} ${JSON.stringify(filter)}: topic filter ${rule}`);
  if (filter.length === 0) throw bad("must not be empty");
  const problem = utf8Problem(filter);
  if (problem) throw bad(problem);
  let rest = filter;
  if (filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    const group = slash < 0 ? filter.slice(7) : filter.slice(7, slash);
    if (group.length === 0) throw bad("has an empty $share group name");
    if (group.includes("+") || group.includes("#")) {
      throw bad("has a $share group name with a wildcard");
    }
    if (slash < 0 || slash === filter.length - 1) throw bad("has no filter after its $share group");
    rest = filter.slice(slash + 1);
  }
  const levels = rest.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      throw bad("may hold # only as the whole last level");
    }
    if (level.includes("+") && level !== "+") throw bad("may hold + only as a whole level");
  }
}

/** The filter a subscription matches against: `$share/<group>/` removed. */
export function matchedFilter(filter: string): string {
  if (!filter.startsWith("$share/")) return filter;
  return filter.slice(filter.indexOf("/", 7) + 1);
}

/**
 * True when `topic` matches `filter` (a checked filter, `$share/` already
 * removed). Wildcards in the first level do not match topics starting with
 * `$` (MQTT §4.7.2).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter[0] === "+" || filter[0] === "#")) {
    return false;
  }
  let f = 0, t = 0;
  const fl = filter.length, tl = topic.length;
  for (;;) {
    if (f >= fl) return t >= tl;
    const fc = filter.charCodeAt(f);
    if (fc === 0x23 /* # */) return true;
    if (fc === 0x2b /* + */) {
      while (t < tl && topic.charCodeAt(t) !== 0x2f) t++;
      f++;
    } else {
      if (t >= tl) {
        // "a/#" matches "a": the parent level.
        return filter.charCodeAt(f) === 0x2f && filter.charCodeAt(f + 1) === 0x23 &&
          f + 2 === fl;
      }
      const fEnd = nextSlash(filter, f);
      const tEnd = nextSlash(topic, t);
      if (fEnd - f !== tEnd - t || filter.slice(f, fEnd) !== topic.slice(t, tEnd)) return false;
      f = fEnd;
      t = tEnd;
    }
    // Both sit on a separator or at their end.
    if (f >= fl) return t >= tl;
    if (t >= tl) {
      return filter.charCodeAt(f) === 0x2f && filter.charCodeAt(f + 1) === 0x23 && f + 2 === fl;
    }
    f++;
    t++;
  }
}

function nextSlash(s: string, from: number): number {
  const i = s.indexOf("/", from);
  return i < 0 ? s.length : i;
}

// A strict reader of the Prometheus text exposition format 0.0.4 (what a scraper accepts), for the specs.
export interface ParsedFamily {
  help: string;
  type: string;
  samples: { labels: Record<string, string>; value: number }[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|NaN|\\+Inf|-Inf))$`);

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, ParsedFamily>();
  text.slice(0, -1).split('\n').forEach((line, i) => {
    const at = `line ${i + 1}: ${line}`;
    let m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (m) {
      if (families.has(m[1])) throw new Error(`${at}: second HELP`);
      families.set(m[1], { help: m[2], type: '', samples: [] });
      return;
    }
    m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      const f = families.get(m[1]);
      if (!f || f.type || f.samples.length) throw new Error(`${at}: TYPE must follow its HELP, once, before the samples`);
      f.type = m[2];
      return;
    }
    m = SAMPLE.exec(line);
    if (!m) throw new Error(`${at}: not a sample`);
    const f = families.get(m[1]);
    if (!f || !f.type) throw new Error(`${at}: sample of a family without HELP/TYPE`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(new RegExp(LABEL, 'g'))) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    f.samples.push({ labels, value: Number(m[m.length - 1]) });
  });
  return families;
}

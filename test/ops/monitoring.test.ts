// The monitoring files (deploy/prometheus-rules.yaml, deploy/grafana-dashboard.json) name only
// metrics the relay exposes: every metric a rule expression or a dashboard query names is read
// from the relay's own /metrics, built as src/server.ts builds it (process metrics included).
// Every alert has its section in docs/operations.md, and promtool checks the rules when it is
// installed (.ci/run installs Debian's prometheus package for it).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { parse } from 'yaml';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { MemoryStore } from '../../src/store/memory.js';
import { testEnv } from '../support/relay.js';

const file = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const RULES = 'deploy/prometheus-rules.yaml';
const DASHBOARD = 'deploy/grafana-dashboard.json';
const RUNBOOK = 'docs/operations.md';

/** Series Prometheus makes itself for every target, not the relay. */
const PROMETHEUS_SERIES = new Set(['up']);

/** PromQL words that look like metric names: keywords, operators and literals. */
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(metric, label)` query) names:
 * strings, label matchers, ranges and grouping clauses are removed, then every identifier that is
 * not a function call or a keyword is a metric name.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\blabel_values\(\s*([^,()]*?)\s*,\s*[A-Za-z_]\w*\s*\)/g, ' $1 ');
  const names = [...bare.matchAll(/(?<![\w:.$])[A-Za-z_:][\w:]*(?![\w:]|\s*\()/g)]
    .map((m) => m[0])
    .filter((name) => !PROMQL_WORDS.has(name.toLowerCase()));
  return [...new Set(names)];
}

/** The series names an exposition offers, from its `# TYPE` lines: a histogram's are its _bucket, _sum and _count. */
function seriesNames(exposition: string): Map<string, string> {
  const series = new Map<string, string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const suffixes =
      type === 'histogram'
        ? ['_bucket', '_sum', '_count']
        : type === 'summary'
          ? ['', '_sum', '_count']
          : [''];
    for (const suffix of suffixes) series.set(`${name!}${suffix}`, name!);
  }
  return series;
}

/** Names an expression uses that neither the relay nor Prometheus provides. */
function unknownMetrics(expr: string, series: Map<string, string>): string[] {
  return metricNames(expr).filter((name) => !series.has(name) && !PROMETHEUS_SERIES.has(name));
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string; refId: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

const rules = (): Rule[] =>
  (parse(readFileSync(file(RULES), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
    (g) => g.rules,
  );
const dashboard = () =>
  JSON.parse(readFileSync(file(DASHBOARD), 'utf8')) as {
    panels: Panel[];
    templating: { list: { name: string; type: string; query: string | { query: string } }[] };
  };
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
/** Every PromQL text of the dashboard, named by where it is: panel targets and variable queries. */
const dashboardQueries = (): [string, string][] => {
  const d = dashboard();
  return [
    ...allPanels(d.panels).flatMap((p) =>
      (p.targets ?? []).map((t): [string, string] => [`panel "${p.title}" ${t.refId}`, t.expr]),
    ),
    ...d.templating.list
      .filter((v) => v.type === 'query')
      .map((v): [string, string] => [
        `variable $${v.name}`,
        typeof v.query === 'string' ? v.query : v.query.query,
      ]),
  ];
};

describe('monitoring files', () => {
  let series: Map<string, string>;
  let relayMetrics: string[];

  beforeAll(async () => {
    // As src/server.ts builds it: the registry with Node's process metrics, read through /metrics.
    const relay = buildApp({
      config: loadConfig(testEnv({ OPS_PORT: undefined })),
      store: new MemoryStore(),
      logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
      metrics: new Metrics({ processMetrics: true }),
    });
    const exposition = (await request(relay.app).get('/metrics').expect(200)).text;
    series = seriesNames(exposition);
    relayMetrics = [...new Set(series.values())].filter((name) => name.startsWith('relay_'));
  });

  it('reads the metric names of an expression, leaving out functions, labels, ranges and keywords', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, route) (rate(relay_http_request_duration_seconds_bucket{route!~"/a|b"}[$__rate_interval]))) > 1e3 and on (job) up offset 5m',
      ),
    ).toEqual(['relay_http_request_duration_seconds_bucket', 'up']);
    expect(metricNames('label_values(relay_http_requests_total{job=~"$job"}, instance)')).toEqual([
      'relay_http_requests_total',
    ]);
    expect(metricNames('(sum(increase(a_total[30m])) or vector(0)) == 0 unless b')).toEqual(['a_total', 'b']);
  });

  it('finds a name the relay does not expose (the check can fail)', () => {
    expect(unknownMetrics('sum(rate(relay_no_such_metric_total[5m])) > 0', series)).toEqual([
      'relay_no_such_metric_total',
    ]);
    // A histogram is read through its series, never by its bare name.
    expect(unknownMetrics('relay_http_request_duration_seconds', series)).toEqual([
      'relay_http_request_duration_seconds',
    ]);
    expect(unknownMetrics('rate(relay_http_request_duration_seconds_count[5m])', series)).toEqual([]);
  });

  it('the exposition has the relay metrics and the process metrics', () => {
    // At least these (a new metric is welcome; the dashboard test below asks it for a panel).
    expect(relayMetrics).toEqual(
      expect.arrayContaining([
        'relay_http_request_duration_seconds',
        'relay_http_requests_total',
        'relay_kit_pushes_total',
        'relay_logins_total',
        'relay_rate_limited_total',
        'relay_store_errors_total',
        'relay_token_refreshes_total',
      ]),
    );
    for (const name of ['process_start_time_seconds', 'nodejs_eventloop_lag_p99_seconds'])
      expect(series.has(name)).toBe(true);
  });

  it('every rule expression names metrics the relay exposes', () => {
    const list = rules();
    expect(list.length).toBeGreaterThan(0);
    for (const rule of list) {
      const name = rule.alert ?? rule.record;
      expect([name, metricNames(rule.expr).length > 0]).toEqual([name, true]);
      expect([name, unknownMetrics(rule.expr, series)]).toEqual([name, []]);
    }
  });

  it('every dashboard query names metrics the relay exposes', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(0);
    for (const [where, expr] of queries) {
      expect([where, metricNames(expr).length > 0]).toEqual([where, true]);
      expect([where, unknownMetrics(expr, series)]).toEqual([where, []]);
    }
  });

  it('the dashboard shows every relay metric, with unique panel ids and the datasource variable', () => {
    const used = new Set(
      dashboardQueries().flatMap(([, expr]) => metricNames(expr).map((n) => series.get(n))),
    );
    // A relay metric no panel shows: add a panel for it to deploy/grafana-dashboard.json.
    expect(relayMetrics.filter((name) => !used.has(name))).toEqual([]);
    const panels = allPanels(dashboard().panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels)
      for (const t of p.targets ?? [])
        expect([p.title, t.datasource?.uid]).toEqual([p.title, '${datasource}']);
  });

  it('every alert has a severity, a runbook link, and its section in docs/operations.md', () => {
    const runbook = readFileSync(file(RUNBOOK), 'utf8');
    const headings = new Set([...runbook.matchAll(/^#{2,4} (\S+)\s*$/gm)].map((m) => m[1]));
    const alerts = rules().filter((r) => r.alert);
    expect(new Set(alerts.map((r) => r.alert)).size).toBe(alerts.length);
    for (const rule of alerts) {
      const name = rule.alert!;
      expect([name, rule.labels?.severity]).toEqual([name, expect.stringMatching(/^(critical|warning)$/)]);
      expect([name, rule.annotations?.runbook]).toEqual([name, `${RUNBOOK}#${name.toLowerCase()}`]);
      expect([name, headings.has(name)]).toEqual([name, true]);
    }
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const havePromtool = promtool.status === 0;
  if (!havePromtool)
    console.warn(`note: promtool not found, so ${RULES} is not checked by it (apt-get install prometheus)`);

  (havePromtool ? it : it.skip)('promtool check rules accepts the rules file', () => {
    const check = spawnSync('promtool', ['check', 'rules', file(RULES)], { encoding: 'utf8' });
    expect([check.status, check.stdout + check.stderr]).toEqual([0, expect.stringContaining('SUCCESS')]);
  });
});

/**
 * Reading a V8 `.cpuprofile` (node --cpu-prof): where the CPU time of a time window went, by
 * category (a file of src/, an npm package, Node's own JavaScript, V8 builtins, GC), by function
 * (self time) and by function of src/ including what it calls (inclusive time). Samples are
 * weighted by the time until the next sample; idle samples are left out.
 *
 * Code run through tsx is one long line per module, so its profile positions are mapped back
 * to the TypeScript line through the source map tsx keeps in its cache ($TMPDIR/tsx-<uid>/):
 * of the cached transforms of a file, the one whose code has the profile's function names at
 * the profile's columns.
 *
 * Usage: tsx bench/cpuprofile.ts <file.cpuprofile> [requests]   (prints the summary as markdown)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  /** µs per request, when a request count is given */
  usPerRequest?: number;
}

export interface ProfileSummary {
  windowMs: number;
  /** CPU time in the window (idle excluded), ms */
  busyMs: number;
  requests: number | null;
  byCategory: Row[];
  selfByFunction: Row[];
  /**
   * Each sample charged to the innermost frame that is not Node's or V8's own code: a function of
   * src/ (or bench/), or else the npm package. So a src/ function carries the builtins and Node
   * internals it calls (JSON.parse, HMAC, …) but not the packages it calls (their own rows).
   * Sums to busyMs, except samples with nothing but Node/V8 frames ("Node/V8 only").
   */
  byOwner: Row[];
  /** functions of src/, including the time of everything they call (synchronously) */
  inclusiveSrc: Row[];
  /** categories with time anywhere on the stack (a sample counts once per category) */
  inclusiveCategory: Row[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where a frame's code lives: `src/sso/sessions.ts`, `pkg:express`, `node`, `V8 builtin`, `GC`, … */
export function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return '(program: V8/native outside JS)';
    if (functionName === '(idle)' || functionName === '(root)') return functionName;
    return 'V8 builtins / native';
  }
  if (url.startsWith('node:')) return 'Node internals (node:*)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return `pkg:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith(ROOT)) return path.slice(ROOT.length);
  return path;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Source map `mappings` → per generated line, [generated column, original line] pairs. */
function decodeMappings(mappings: string): [number, number][][] {
  const lines: [number, number][][] = [];
  let origLine = 0;
  for (const text of mappings.split(';')) {
    const segs: [number, number][] = [];
    let genCol = 0;
    for (const seg of text.split(',')) {
      if (!seg) continue;
      const v: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          v.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += v[0]!;
      if (v.length >= 4) {
        origLine += v[2]!;
        segs.push([genCol, origLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

interface Transform {
  code: string;
  lines: [number, number][][];
  mtime: number;
}

/** TypeScript lines of frames in files tsx compiled, from tsx's cached transforms. */
export class TsxLines {
  private byFile: Map<string, Transform[]> | null = null;
  private readonly chosen = new Map<string, Transform | null>();

  constructor(private readonly dir = join(tmpdir(), `tsx-${process.geteuid?.() ?? userInfo().username}`)) {}

  private load(): Map<string, Transform[]> {
    const byFile = new Map<string, Transform[]>();
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return byFile;
    }
    for (const name of names) {
      try {
        const path = join(this.dir, name);
        const entry = JSON.parse(readFileSync(path, 'utf8')) as {
          code?: string;
          map?: { sources?: string[]; mappings?: string };
        };
        const source = entry.map?.sources?.[0];
        if (!entry.code || !source || entry.map?.mappings === undefined) continue;
        const list = byFile.get(source) ?? [];
        list.push({
          code: entry.code,
          lines: decodeMappings(entry.map.mappings),
          mtime: statSync(path).mtimeMs,
        });
        byFile.set(source, list);
      } catch {
        // not a transform
      }
    }
    return byFile;
  }

  /** Picks, per file, the cached transform whose code has these functions' names where the profile says. */
  choose(frames: readonly CallFrame[]): void {
    this.byFile ??= this.load();
    const named = new Map<string, CallFrame[]>();
    for (const f of frames) {
      if (!f.url.startsWith('file://') || f.url.includes('/node_modules/')) continue;
      const list = named.get(f.url) ?? [];
      list.push(f);
      named.set(f.url, list);
    }
    for (const [url, list] of named) {
      const candidates = this.byFile.get(fileURLToPath(url)) ?? [];
      let best: Transform | null = null;
      let bestScore = -1;
      for (const t of candidates) {
        const lines = t.code.split('\n');
        let score = 0;
        for (const f of list) {
          const line = lines[f.lineNumber] ?? '';
          if (
            f.functionName &&
            line.slice(Math.max(0, f.columnNumber - 80), f.columnNumber + 80).includes(f.functionName)
          )
            score++;
        }
        if (score > bestScore || (score === bestScore && best && t.mtime > best.mtime)) {
          best = t;
          bestScore = score;
        }
      }
      this.chosen.set(url, best);
    }
  }

  /** 1-based TypeScript line of a frame, or null when unknown. */
  line(f: CallFrame): number | null {
    const t = this.chosen.get(f.url);
    const segs = t?.lines[f.lineNumber];
    if (!segs?.length) return null;
    let lo = 0;
    let hi = segs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segs[mid]![0] <= f.columnNumber) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? null : segs[found]![1] + 1;
  }
}

function labeller(lines: TsxLines | null) {
  return (f: CallFrame) => {
    const where = category(f);
    const compiled = lines && f.url.startsWith('file://') && !f.url.includes('/node_modules/');
    const line = compiled ? lines.line(f) : f.url ? f.lineNumber + 1 : null;
    return `${f.functionName || '(anonymous)'} ${where}${line !== null ? `:${line}` : ''}`;
  };
}

/** Summarises the samples taken between `fromUs` and `toUs` (V8 monotonic µs; default: all). */
export function summarize(
  profile: CpuProfile,
  options: { fromUs?: number; toUs?: number; requests?: number; top?: number; tsx?: TsxLines | null } = {},
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const tsx = options.tsx === undefined ? new TsxLines() : options.tsx;
  tsx?.choose(profile.nodes.map((n) => n.callFrame));
  const label = labeller(tsx);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const from = options.fromUs ?? profile.startTime;
  const to = options.toUs ?? profile.endTime;

  const self = new Map<string, number>();
  const cat = new Map<string, number>();
  const incSrc = new Map<string, number>();
  const incCat = new Map<string, number>();
  const owner = new Map<string, number>();
  const ownCode = (c: string) =>
    !(
      c.startsWith('Node internals') ||
      c === 'V8 builtins / native' ||
      c === 'GC' ||
      c.startsWith('(program')
    );
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

  let t = profile.startTime;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const node = byId.get(profile.samples[i]!)!;
    const c = category(node.callFrame);
    if (c === '(idle)' || c === '(root)') continue;
    busy += dt;
    add(self, label(node.callFrame), dt);
    add(cat, c, dt);
    const seenFn = new Set<string>();
    const seenCat = new Set<string>();
    let owned = false;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const fc = category(f);
      if (!owned && ownCode(fc) && fc !== '(root)') {
        owned = true;
        add(owner, fc.startsWith('src/') || fc.startsWith('bench/') ? label(f) : fc, dt);
      }
      if (!seenCat.has(fc)) {
        seenCat.add(fc);
        add(incCat, fc, dt);
      }
      if (fc.startsWith('src/')) {
        const k = label(f);
        if (!seenFn.has(k)) {
          seenFn.add(k);
          add(incSrc, k, dt);
        }
      }
    }
    if (!owned)
      add(owner, c === 'GC' ? 'GC' : 'Node/V8 only (HTTP parsing, sockets, timers, microtasks)', dt);
  }
  const requests = options.requests ?? null;
  const rows = (m: Map<string, number>, top = Infinity): Row[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 100) / 10,
        ...(requests ? { usPerRequest: Math.round((us / requests) * 10) / 10 } : {}),
      }));
  const top = options.top ?? 25;
  return {
    windowMs: Math.round((to - from) / 1000),
    busyMs: Math.round(busy / 1000),
    requests,
    byCategory: rows(cat),
    selfByFunction: rows(self, top),
    byOwner: rows(owner, top),
    inclusiveSrc: rows(incSrc, top),
    inclusiveCategory: rows(incCat, top),
  };
}

export function rowsTable(title: string, rows: Row[], limit = rows.length): string {
  const perRequest = rows.some((r) => r.usPerRequest !== undefined);
  const lines = [
    `| ${title} | ms |${perRequest ? ' µs/request |' : ''}`,
    `| --- | ---: |${perRequest ? ' ---: |' : ''}`,
  ];
  for (const r of rows.slice(0, limit))
    lines.push(
      `| ${r.name.replace(/\|/g, '\\|')} | ${r.ms} |${perRequest ? ` ${r.usPerRequest ?? ''} |` : ''}`,
    );
  return lines.join('\n');
}

export function summaryMarkdown(name: string, s: ProfileSummary, limit = 20): string {
  const per = s.requests
    ? `, ${s.requests} requests: ${Math.round((s.busyMs * 1000) / s.requests)} µs/request`
    : '';
  return [
    `#### ${name}: ${s.busyMs} ms CPU sampled in a ${s.windowMs} ms window${per}`,
    '',
    rowsTable('Self time by category', s.byCategory, limit),
    '',
    rowsTable('Inclusive time by category (on the stack)', s.inclusiveCategory, limit),
    '',
    rowsTable('By owner: innermost src/ function or package on the stack', s.byOwner, limit),
    '',
    rowsTable('Self time by function', s.selfByFunction, limit),
    '',
    rowsTable('Inclusive time of src/ functions', s.inclusiveSrc, limit),
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, requests] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/cpuprofile.ts <file.cpuprofile> [requests]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(
    summaryMarkdown(file, summarize(profile, requests ? { requests: Number(requests) } : {})),
  );
}

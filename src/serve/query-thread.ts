// The query threads' entry point: each keeps its own read-only connections, one per index, reopened when a run
// replaces the file (IndexHandle). Plain objects in, plain objects out.
import { IndexHandle } from '../query/locate.js';
import { runTool, warmIndex, type Args, type ToolAnswer } from './tools.js';

export interface QueryTask {
  /** A tool name, or 'warm' to load the caches a first query would wait for. */
  tool: string;
  args: Args;
  indexPath: string;
  root: string | null;
  /** Changes the server's watcher has seen in this repository (undefined: not watched). */
  generation?: number;
}

export interface QueryReply extends ToolAnswer {
  /** There is no readable index: null when the file does not exist, else why it cannot be opened. */
  missing?: { reason: string | null };
}

const handles = new Map<string, IndexHandle>();

export default async function run(task: QueryTask): Promise<QueryReply> {
  let h = handles.get(task.indexPath);
  if (!h) handles.set(task.indexPath, (h = new IndexHandle(task.indexPath)));
  const open = h.get();
  if (!open) return { text: h.lastError ?? '', indexedAt: null, missing: { reason: h.lastError }, ...(h.damaged ? { error: 'damaged' as const } : {}) };
  const ix = { db: open.db, meta: open.meta, indexPath: task.indexPath, root: task.root ?? open.meta.root ?? null, generation: task.generation };
  if (task.tool === 'warm') {
    warmIndex(open.db);
    return { text: '', indexedAt: open.meta.last_run ?? null };
  }
  return runTool(ix, task.tool, task.args);
}

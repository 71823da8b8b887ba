import type { Dependencies } from '../dependencies.js';

export interface RunningWorker {
  name: string;
  close(): Promise<void>;
}

/** Starts every background worker this process runs (ROLE=worker or all). */
export async function startWorkers(deps: Dependencies): Promise<RunningWorker[]> {
  deps.logger.info('workers started');
  return [];
}

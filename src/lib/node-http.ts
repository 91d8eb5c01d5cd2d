/**
 * node:http, for the processes that stay up (caisd, cais-registry, the dashboard): always import it from here.
 *
 * `import … from 'node:http'` builds the module's ES namespace, which reads every export, the lazy ones too
 * (WebSocket, CloseEvent, MessageEvent): that loads undici and, with it, http2, perf_hooks and worker_threads.
 * Nothing here uses them: 13-14 MB in a bare node, 3.5 MB of a fresh caisd's 81 (bench/README.md, memory at
 * rest). The CommonJS exports object is the same module with its lazy exports left unread. Types still come from
 * `import type … from 'node:http'`, which costs nothing at run time.
 */
export const http = process.getBuiltinModule('node:http')

/** Prometheus counters and a latency histogram of the requests served, for `/metrics`. */
export class RegistryMetrics {
  readonly #requests = new Map<string, number>()
  #sent = 0
  #received = 0
  readonly #buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  readonly #counts = new Array<number>(this.#buckets.length + 1).fill(0)
  #sum = 0

  observe(e: { method: string; status: number; sent: number; received: number; ms: number }): void {
    const key = `method="${e.method}",code="${e.status}"`
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1)
    this.#sent += e.sent
    this.#received += e.received
    const s = e.ms / 1000
    this.#sum += s
    const i = this.#buckets.findIndex((b) => s <= b)
    this.#counts[i < 0 ? this.#buckets.length : i]!++
  }

  render(): string {
    const lines = ['# HELP registry_http_requests_total Requests served, by method and status.', '# TYPE registry_http_requests_total counter']
    for (const [k, v] of this.#requests) lines.push(`registry_http_requests_total{${k}} ${v}`)
    lines.push('# HELP registry_http_response_bytes_total Bytes sent in response bodies.', '# TYPE registry_http_response_bytes_total counter', `registry_http_response_bytes_total ${this.#sent}`)
    lines.push('# HELP registry_http_request_bytes_total Bytes received in request bodies.', '# TYPE registry_http_request_bytes_total counter', `registry_http_request_bytes_total ${this.#received}`)
    lines.push('# HELP registry_http_request_duration_seconds Time to answer a request.', '# TYPE registry_http_request_duration_seconds histogram')
    let cumulative = 0
    for (const [i, b] of this.#buckets.entries()) {
      cumulative += this.#counts[i]!
      lines.push(`registry_http_request_duration_seconds_bucket{le="${b}"} ${cumulative}`)
    }
    cumulative += this.#counts[this.#buckets.length]!
    lines.push(`registry_http_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`, `registry_http_request_duration_seconds_sum ${this.#sum.toFixed(6)}`, `registry_http_request_duration_seconds_count ${cumulative}`)
    return `${lines.join('\n')}\n`
  }
}

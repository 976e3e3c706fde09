/**
 * Counters for `GET /metrics`, in Prometheus' text format: requests by route, method and status,
 * a latency histogram, and the daemon's ticks read from the database at scrape time.
 *
 * @module
 */

/** Upper bounds of the latency buckets, in seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export interface Metrics {
  observe(route: string, method: string, status: number, seconds: number): void
  /** The metrics text; `extra` lines (the daemon's) are appended. */
  render(extra: string[]): string
}

export function createMetrics(): Metrics {
  const requests = new Map<string, number>()
  const histograms = new Map<string, { counts: number[]; sum: number; count: number }>()

  return {
    observe(route, method, status, seconds) {
      const key = `route="${escape(route)}",method="${method}",status="${status}"`
      requests.set(key, (requests.get(key) ?? 0) + 1)
      const histogramKey = `route="${escape(route)}"`
      let histogram = histograms.get(histogramKey)
      if (!histogram) {
        histogram = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }
        histograms.set(histogramKey, histogram)
      }
      for (let i = 0; i < BUCKETS.length; i++) {
        if (seconds <= (BUCKETS[i] as number)) (histogram.counts[i] as number)++
      }
      histogram.sum += seconds
      histogram.count++
    },

    render(extra) {
      const lines = [
        '# HELP cryptorg_http_requests_total HTTP requests answered, by route, method and status.',
        '# TYPE cryptorg_http_requests_total counter',
      ]
      for (const [labels, value] of requests) {
        lines.push(`cryptorg_http_requests_total{${labels}} ${value}`)
      }
      lines.push(
        '# HELP cryptorg_http_request_duration_seconds Time to answer a request, by route.',
        '# TYPE cryptorg_http_request_duration_seconds histogram',
      )
      for (const [labels, histogram] of histograms) {
        BUCKETS.forEach((bound, i) => {
          lines.push(
            `cryptorg_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${histogram.counts[i]}`,
          )
        })
        lines.push(
          `cryptorg_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${histogram.count}`,
          `cryptorg_http_request_duration_seconds_sum{${labels}} ${histogram.sum}`,
          `cryptorg_http_request_duration_seconds_count{${labels}} ${histogram.count}`,
        )
      }
      return `${[...lines, ...extra].join('\n')}\n`
    },
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

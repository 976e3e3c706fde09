// For the workers that are HTTP servers: listen on a free loopback port, report it to the
// bench over IPC, and stop when told to or when the bench goes away.
export function serveOnLoopback(server) {
  server.listen(0, '127.0.0.1', () => {
    process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}` })
  })
  const shutdown = () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.on('disconnect', shutdown)
}

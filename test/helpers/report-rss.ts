// Preloaded into a CLI run under test: reports the process's peak resident memory at exit.
process.on('exit', () => {
  process.stderr.write(`peak-rss-kib=${process.resourceUsage().maxRSS}\n`);
});

# CPU by stage from `perf script` output (DWARF call stacks): each sample
# goes to the innermost frame, leaf first, that names a stage. Prints the
# share of samples and, with -v ms=X (CPU ms per probe), the ms of each.
# Used by bench/profile.sh and bench/scale.sh (OSE_BENCH_PERF).
function stage(fn, line) {
  if (line ~ /libssl\.so/) return "handshake (libssl and the libcrypto it calls)";
  if (fn ~ /RunFloor/) return "socket, connect, close (the floor's loop)";
  if (fn ~ /VerificationCache|CollectFacts|HandshakeDigest|VerifyHandshake|FactsLifetime/) return "verification cache (digest, lookup)";
  if (fn ~ /CrlStore|RevokedIndex|ChainRevocation|LookUpRevocation/) return "CRL lookup";
  if (fn ~ /ProbeText|EmitTargets|AppendEscaped|AppendSeries|TakeText|Families::/) return "rendering the answer";
  if (fn ~ /basic_parser|request_parser|http::detail::read|ParseProbeQuery|Router::|AnswerProbe|OnRequest|ReadRequest/) return "HTTP request (read, parse, route)";
  if (fn ~ /http::detail::write|write_op|Session.*Write|serializer/) return "HTTP response write";
  if (fn ~ /DnsResolver|ares_/) return "resolve";
  if (fn ~ /async_connect|connect_op|::Connect/) return "connect";
  if (fn ~ /TlsProbeOp|HandshakeOp|ProbeTlsTarget|TlsProber/) return "probe bookkeeping (ours)";
  if (fn ~ /ResultStore|Scheduler::|ScheduledTarget|BuildTargets/) return "scheduler and result store";
  if (fn ~ /timer_queue|wait_handler|epoll_reactor|scheduler::run|do_run_one|posix_event|conditionally_enabled|pthread_cond/) return "event loop (epoll, wakes, handler dispatch)";
  return "";
}
/^[^\t]/ { if (n) c[cur == "" ? "other" : cur]++; n++; cur = ""; next }
/^\t/ { if (cur == "") cur = stage($2, $0); next }
END {
  if (n) c[cur == "" ? "other" : cur]++
  for (k in c) printf "%6.1f%%  %6.3f ms  %s\n", 100 * c[k] / n, ms * c[k] / n, k
}

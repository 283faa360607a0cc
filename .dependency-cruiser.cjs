/**
 * The runtime's layers, bottom up: domain → keys → rotation → providers → health / jobs / probes /
 * observability / config → http → app (composition). An import against that direction fails
 * `npm run lint`. lib/ (CDK) reaches the runtime only through lambda/contracts.ts.
 */
const layer = (from, forbidden, comment) => ({
  name: `${from.replace(/\W+/g, '-')}-stays-below`,
  comment,
  severity: 'error',
  from: { path: `^lambda/${from}/` },
  to: { path: `^lambda/(${forbidden.join('|')})(/|\\.)` },
});

module.exports = {
  forbidden: [
    layer('domain', ['keys', 'rotation', 'providers', 'health', 'jobs', 'observability', 'config', 'http', 'app', 'platform', 'contracts', 'index', 'probes'], 'The domain layer (types and ports) imports nothing else from lambda/.'),
    layer('keys', ['rotation', 'providers', 'health', 'jobs', 'observability', 'config', 'http', 'app', 'platform', 'contracts', 'probes'], 'Key pools know only the domain.'),
    layer('rotation', ['providers', 'health', 'jobs', 'observability', 'config', 'http', 'app', 'platform', 'contracts', 'probes'], 'The rotation loop runs on ports: no provider, no HTTP, no logging.'),
    layer('providers', ['keys', 'rotation', 'health', 'jobs', 'observability', 'config', 'http', 'app', 'platform', 'contracts', 'probes'], 'Providers see only the domain (credentials and transport are ports).'),
    layer('health', ['rotation', 'providers', 'jobs', 'config', 'http', 'app', 'platform', 'contracts', 'probes'], 'Health aggregates summaries; it does not run requests.'),
    layer('jobs', ['providers', 'health', 'observability', 'config', 'http', 'app', 'platform', 'contracts', 'probes'], 'Jobs get their runner and transport injected.'),
    layer('observability', ['providers', 'health', 'jobs', 'config', 'http', 'app', 'platform'], 'Logs and metrics are sinks.'),
    layer('config', ['rotation/loop', 'health', 'jobs', 'observability', 'http', 'app', 'platform', 'probes'], 'Configuration is read, not run.'),
    layer('probes', ['rotation', 'providers', 'jobs', 'observability', 'config', 'http', 'app', 'platform', 'contracts'], 'Key probes run on ports: the vendor probes, the transport and the fleet key state are passed in.'),
    layer('http', ['app', 'platform', 'config'], 'The HTTP layer gets what it needs passed in; it never reaches into the composition.'),
    {
      name: 'vendor-folders-are-apart',
      comment: "A vendor's quirks stay in its folder: one vendor folder never imports another.",
      severity: 'error',
      from: { path: '^lambda/providers/([^/]+)/' },
      to: { path: '^lambda/providers/[^/]+/', pathNot: ['^lambda/providers/$1/', '^lambda/providers/http/'] },
    },
    {
      name: 'http-uses-the-registry-not-vendors',
      comment: 'Routing and validation go through the registry, never a vendor folder.',
      severity: 'error',
      from: { path: '^lambda/http/' },
      to: { path: '^lambda/providers/(?!registry|types)' },
    },
    {
      name: 'infra-reads-contracts-only',
      comment: 'lib/ (CDK) shares names with the runtime through lambda/contracts.ts only.',
      severity: 'error',
      from: { path: '^(lib|bin)/' },
      to: { path: '^lambda/', pathNot: '^lambda/contracts\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^lambda/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|cdk\\.out)' },
  },
};

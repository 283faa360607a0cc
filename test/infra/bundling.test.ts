import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigTable } from '../../lib/constructs/config-table';
import { MediaFunction } from '../../lib/constructs/media-function';
import { ProviderKeys } from '../../lib/constructs/provider-keys';
import { cdkJsonContext } from './synth';

/**
 * The one test that really runs esbuild (locally, no Docker), on a small fixture entry so it does
 * not depend on the gateway's code: the asset must be a minified ES module (top-level await
 * allowed) with a linked source map that carries no sources, the AWS SDK left to the runtime,
 * and only the secrets entry point of Powertools Parameters.
 */
describe('MediaFunction bundling', () => {
  let assetDir: string;
  let template: Template;

  beforeAll(() => {
    const app = new App({ context: cdkJsonContext(), builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Bundling');
    new MediaFunction(stack, 'Media', {
      table: new ConfigTable(stack, 'Table'),
      providerKeys: new ProviderKeys(stack, 'Keys'),
      entry: path.join(__dirname, 'fixtures', 'index.mts'),
    });
    const assembly = app.synth();
    template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template);
    const assetDirs = fs.readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    expect(assetDirs).toHaveLength(1);
    assetDir = path.join(assembly.directory, assetDirs[0]);
  });

  const code = () => fs.readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');

  it('emits a minified ES module with a linked source map without sources content', () => {
    expect(fs.readdirSync(assetDir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    expect(code()).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    expect(code()).toMatch(/^import\{createRequire as __nbCreateRequire\}from'module';/);
    expect(code()).toContain('await Promise.resolve(');
    expect(code().split('\n').length).toBeLessThan(20);
    const map = JSON.parse(fs.readFileSync(path.join(assetDir, 'index.mjs.map'), 'utf8')) as { sourcesContent?: unknown };
    expect(map.sourcesContent).toBeUndefined();
  });

  it('keeps the AWS SDK external and pulls in only the secrets part of Powertools Parameters', () => {
    expect(code()).toMatch(/from"@aws-sdk\/client-secrets-manager"/);
    expect(code()).not.toMatch(/GetParameterCommand|AppConfigData|DynamoDBProvider/);
  });

  it('points Lambda at the bundle with source maps enabled', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });
});

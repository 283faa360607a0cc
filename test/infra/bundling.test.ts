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
 * not depend on the gateway's code: the asset must be minified CommonJS with a linked source map
 * that carries no sources, and only the secrets entry point of Powertools Parameters.
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
      entry: path.join(__dirname, 'fixtures', 'handler.ts'),
    });
    const assembly = app.synth();
    template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template);
    const assetDirs = fs.readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    expect(assetDirs).toHaveLength(1);
    assetDir = path.join(assembly.directory, assetDirs[0]);
  });

  it('emits minified index.js with a linked source map without sources content', () => {
    expect(fs.readdirSync(assetDir).sort()).toEqual(['index.js', 'index.js.map']);
    const code = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
    expect(code.split('\n').length).toBeLessThan(20);
    const map = JSON.parse(fs.readFileSync(path.join(assetDir, 'index.js.map'), 'utf8')) as { sourcesContent?: unknown };
    expect(map.sourcesContent).toBeUndefined();
  });

  it('keeps the AWS SDK external and pulls in only the secrets part of Powertools Parameters', () => {
    const code = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(code).toContain('require("@aws-sdk/client-secrets-manager")');
    expect(code).not.toMatch(/GetParameterCommand|AppConfigData|DynamoDBProvider/);
  });

  it('points Lambda at the bundle with source maps enabled', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });
});

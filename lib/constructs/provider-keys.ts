import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface ProviderKeysProps {
  /** @default 'nanobot/provider-keys' */
  readonly secretName?: string;
  /**
   * Vendor keys are tedious to re-issue, so by default the secret outlives the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The secret's shape with no keys yet; the operator fills it with `put-secret-value`. */
export const EMPTY_PROVIDER_KEYS = { openai: [], elevenlabs: [], fal: [], kling: [] } as const;

/**
 * One Secrets Manager secret holding every vendor's key pool as JSON
 * (`{"openai":["sk-…"],"elevenlabs":[…],"fal":["id:secret"],"kling":["ACCESS:SECRET"]}`).
 *
 * The stack never sees a key: CloudFormation creates the secret from an empty template, and the
 * function reads it at run time through a cache (lambda/config/secret-keys.ts), so keys are
 * added or rotated with `aws secretsmanager put-secret-value`, without a deploy.
 */
export class ProviderKeys extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: ProviderKeysProps = {}) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      secretName: props.secretName ?? 'nanobot/provider-keys',
      description: 'nanobot provider API key pools (JSON: openai, elevenlabs, fal, kling → arrays of keys)',
      // generateSecretString is evaluated by Secrets Manager at creation, so the template holds no
      // secret value at all. The generated `_placeholder` filler (a random string) is ignored by the parser.
      generateSecretString: {
        secretStringTemplate: JSON.stringify(EMPTY_PROVIDER_KEYS),
        generateStringKey: '_placeholder',
        excludePunctuation: true,
        passwordLength: 12,
      },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Holds third-party vendor API keys (OpenAI, ElevenLabs, fal, Kling) that only the vendor consoles can ' +
        'issue; a Secrets Manager rotation Lambda cannot mint them. Operators rotate by put-secret-value and the ' +
        'function picks the change up within its 5-minute cache, with no deploy.',
    });
  }

  /** `secretsmanager:GetSecretValue` on this one secret; nothing else (no DescribeSecret, no KMS: AWS-managed key). */
  grantReadValue(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }),
    );
  }
}

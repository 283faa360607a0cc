import { Alarm, ComparisonOperator, IMetric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ProbeMetrics } from '../probe-metrics';

export interface ProbeAlarmsProps {
  readonly probe: IFunction;
  readonly metrics: ProbeMetrics;
  /** The alarm topic (`HealthAlarms`): ALARM and OK notify it. */
  readonly topic: ITopic;
  /** A key's quota use (%) that alarms. */
  readonly quotaPercent: number;
  /** @default 'nanobot' */
  readonly alarmPrefix?: string;
}

/**
 * Alarms on the key probes: a key running out of quota, a vendor with no key passing its probe,
 * probe runs failing, and probe runs not happening at all.
 */
export class ProbeAlarms extends Construct {
  readonly alarms: Alarm[] = [];
  private readonly action: SnsAction;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: ProbeAlarmsProps) {
    super(scope, id);
    this.prefix = props.alarmPrefix ?? 'nanobot';
    this.action = new SnsAction(props.topic);
    const m = props.metrics;

    this.add('KeyQuotaHigh', m.maxKeyQuotaUsed(), {
      threshold: props.quotaPercent,
      description:
        `A provider key has used ${props.quotaPercent}% or more of its quota (EMF KeyQuotaUsedPercent, from the ` +
        'key probes: ElevenLabs characters, Kling resource packs). `npm run health -- --aws --keys` shows which key and when it resets.',
    });
    for (const vendor of m.vendors) {
      this.add(`NoKeyPassingProbes-${vendor}`, m.keysPassing(vendor), {
        threshold: 1,
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        description:
          `No ${vendor} key passed its last conclusive probe in a whole 5-minute period (EMF KeysPassingProbes): every key is ` +
          'invalid or out of quota, so requests for this vendor fail. Replace or top up the keys in nanobot/provider-keys.',
      });
    }
    this.add('ProbeRunsFailing', props.probe.metricErrors({ period: m.period, statistic: Stats.SUM }), {
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      description:
        'Key probe runs failed in 2 of the last 3 5-minute periods: the table was unreachable or no provider answered any probe. ' +
        'Look for "probe run" and "key health" warnings in /aws/lambda/nanobot-probe.',
    });
    this.add('ProbeRunsMissing', props.probe.metricInvocations({ period: m.period, statistic: Stats.SUM }), {
      threshold: 1,
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      // The one alarm where silence is the incident: the schedule stopped invoking the probe.
      missing: TreatMissingData.BREACHING,
      description:
        'The key probe was not invoked for 15 minutes (rule nanobot-probe-schedule disabled, or the function throttled or ' +
        'deleted): key status falls back to traffic only and invalid keys are found by requests again.',
    });
  }

  private add(
    id: string,
    metric: IMetric,
    o: { threshold: number; description: string; comparison?: ComparisonOperator; evaluationPeriods?: number; datapointsToAlarm?: number; missing?: TreatMissingData },
  ): void {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.prefix}-${id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}`,
      alarmDescription: o.description,
      metric,
      threshold: o.threshold,
      comparisonOperator: o.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: o.evaluationPeriods ?? 1,
      datapointsToAlarm: o.datapointsToAlarm ?? o.evaluationPeriods ?? 1,
      treatMissingData: o.missing ?? TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
  }
}

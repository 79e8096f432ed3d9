import { Inject, Logger, Module, type OnModuleDestroy } from '@nestjs/common';
import type { AlertChannelsConfig } from '@meterstream/config';
import { alertChannelsConfig } from '@meterstream/config/nest';
import { createAlertChannels, type AlertChannel } from '@meterstream/alert-channels';
import { ALERT_CHANNELS } from './tokens';

/**
 * The alert channels named in ALERT_CHANNELS (createAlertChannels, namespace `alertChannels`),
 * each rate limited; SNS required only when configured. Closed when the module is destroyed,
 * after the dispatcher (in a module that imports this one) has stopped delivering.
 */
@Module({
  providers: [{ provide: ALERT_CHANNELS, useFactory: (config: AlertChannelsConfig): AlertChannel[] => createAlertChannels(config), inject: [alertChannelsConfig.KEY] }],
  exports: [ALERT_CHANNELS],
})
export class AlertChannelsModule implements OnModuleDestroy {
  private readonly logger = new Logger('alert-channels');

  constructor(@Inject(ALERT_CHANNELS) private readonly channels: AlertChannel[]) {}

  async onModuleDestroy(): Promise<void> {
    for (const channel of this.channels) {
      await channel.close().catch((err: unknown) => this.logger.warn(`closing the ${channel.name} alert channel: ${(err as Error).message}`));
    }
  }
}

import { Module } from '@nestjs/common';
import type { ModelRegistryConfig } from '@meterstream/config';
import { modelRegistryConfig } from '@meterstream/config/nest';
import { FileModelRegistry } from '@meterstream/model-registry';
import { MODEL_REGISTRY } from './tokens';

/** The model registry (namespace `modelRegistry`: MODEL_DIR, default DATA_DIR/models). Plain files: nothing to close. */
@Module({
  providers: [{ provide: MODEL_REGISTRY, useFactory: (config: ModelRegistryConfig) => new FileModelRegistry(config.modelDir), inject: [modelRegistryConfig.KEY] }],
  exports: [MODEL_REGISTRY],
})
export class ModelRegistryModule {}

import { Global, Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OptionalFactoryDependency } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { Registry } from 'prom-client';
import { BEARER_TOKEN, BearerTokenGuard } from '../auth/bearer-token.guard';
import { HealthController, READINESS_CHECKS } from '../health/health.controller';
import type { ReadinessCheck } from '../health/readiness-check';
import { createServiceRegistry } from '../metrics/service-registry';
import { METRICS_REGISTRY, MetricsController } from './metrics.controller';

/** The service's metrics registry, global: any module of the service injects METRICS_REGISTRY to register its metrics. */
@Global()
@Module({})
export class MetricsRegistryModule {
  /** `registry`: one the caller built and registered metrics in already (the launcher's ingest). */
  static forRoot(service: string, registry: Registry = createServiceRegistry(service)): DynamicModule {
    return { module: MetricsRegistryModule, providers: [{ provide: METRICS_REGISTRY, useValue: registry }], exports: [METRICS_REGISTRY] };
  }
}

export interface OperationsModuleOptions {
  /** Modules whose providers the readiness checks need. */
  imports?: ModuleMetadata['imports'];
  /** What the service's readiness depends on. */
  readiness: { useFactory: (...deps: never[]) => ReadinessCheck[]; inject?: (InjectionToken | OptionalFactoryDependency)[] };
  /** API_TOKEN: /metrics needs it as a bearer token when set. */
  bearerToken: { useFactory: (...deps: never[]) => string | undefined; inject?: (InjectionToken | OptionalFactoryDependency)[] };
  /** Serve GET /metrics of the registry (false: the service has its own metrics route, the API). */
  metricsRoute?: boolean;
}

/**
 * A service's operations endpoints: `/health` and `/ready` (terminus), and `/metrics` (its
 * prom-client registry, behind API_TOKEN when set). Needs MetricsRegistryModule.forRoot in the
 * service. The API mounts it on its own port; the bridge and the processor on theirs
 * (METRICS_HOST, BRIDGE_METRICS_PORT / PROCESSOR_METRICS_PORT).
 */
@Module({})
export class OperationsModule {
  static forRoot(options: OperationsModuleOptions): DynamicModule {
    return {
      module: OperationsModule,
      imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty', gracefulShutdownTimeoutMs: 0 }), ...(options.imports ?? [])],
      controllers: options.metricsRoute === false ? [HealthController] : [HealthController, MetricsController],
      providers: [
        { provide: READINESS_CHECKS, useFactory: options.readiness.useFactory, inject: options.readiness.inject ?? [] },
        { provide: BEARER_TOKEN, useFactory: options.bearerToken.useFactory, inject: options.bearerToken.inject ?? [] },
        BearerTokenGuard,
      ],
      exports: [BEARER_TOKEN, BearerTokenGuard],
    };
  }
}

export type { Registry };

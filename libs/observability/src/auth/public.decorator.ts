import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'meterstream:public';

/** Marks a route that answers without a bearer token (a load balancer's or orchestrator's probe). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'meterstream:public';

/** Marks a route that answers without a bearer token (the health probe of a load balancer). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

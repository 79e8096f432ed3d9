import { BadRequestException, ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { getMetadataStorage, type ValidationError } from 'class-validator';

/**
 * The one validation pipe of the API: query parameters are converted by their DTO's decorators,
 * unknown ones are refused (a typo such as `?form=` must not silently fall back to a default),
 * and every message names the parameter (or body field) and what to send.
 */
export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe();
}

/** Carries the errors from the exception factory to `transform`, which knows where they came from. */
class InvalidInput extends Error {
  constructor(readonly errors: ValidationError[]) {
    super('invalid input');
  }
}

class ApiValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      stopAtFirstError: true,
      // describe() reads the DTO class from the error's target to list the allowed names.
      validationError: { target: true, value: true },
      exceptionFactory: (errors) => new InvalidInput(errors),
    });
  }

  // The factory cannot tell a query from a body; the metadata here can, so an unknown body field
  // is not called a query parameter.
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return await super.transform(value, metadata);
    } catch (err) {
      if (!(err instanceof InvalidInput)) throw err;
      const where = metadata.type === 'body' ? BODY : QUERY;
      throw new BadRequestException(err.errors.flatMap((e) => describe(e, where)));
    }
  }
}

interface Place {
  unknown: (name: string) => string;
  none: string;
}
const QUERY: Place = { unknown: (name) => `unknown query parameter "${name}"`, none: 'this endpoint takes no query parameters' };
const BODY: Place = { unknown: (name) => `unknown field "${name}" in the body`, none: 'this endpoint takes no body fields' };

function describe(error: ValidationError, where: Place): string[] {
  if (error.constraints?.whitelistValidation) {
    const allowed = error.target ? allowedParameters(error.target) : [];
    const hint = allowed.length > 0 ? `this endpoint accepts ${allowed.join(', ')}` : where.none;
    return [`${where.unknown(error.property)}: ${hint}`];
  }
  return Object.values(error.constraints ?? {});
}

function allowedParameters(dto: object): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(dto.constructor, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))].sort();
}

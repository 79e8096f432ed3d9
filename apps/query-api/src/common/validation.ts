import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage, type ValidationError } from 'class-validator';

/**
 * The one validation pipe of the API: query parameters are converted by their DTO's decorators,
 * unknown ones are refused (a typo such as `?form=` must not silently fall back to a default),
 * and every message names the parameter and what to send.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: true,
    // The exception factory reads the DTO class from the error's target to list the allowed names.
    validationError: { target: true, value: true },
    exceptionFactory: (errors) => new BadRequestException(errors.flatMap(describe)),
  });
}

function describe(error: ValidationError): string[] {
  if (error.constraints?.whitelistValidation) {
    const allowed = error.target ? allowedParameters(error.target) : [];
    const hint = allowed.length > 0 ? `this endpoint accepts ${allowed.join(', ')}` : 'this endpoint takes no query parameters';
    return [`unknown query parameter "${error.property}": ${hint}`];
  }
  return Object.values(error.constraints ?? {});
}

function allowedParameters(dto: object): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(dto.constructor, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))].sort();
}

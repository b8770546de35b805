/** The released version, shown by --version and reported as the service.version of telemetry. */
export const version = "0.1.0"

// Placeholder: replaced by the migrator.
export async function migrateUp(_options: { url: string; quiet?: boolean }): Promise<void> {
  throw new Error('migrator not implemented yet');
}

// Brings a throwaway database to the current schema (filled in by the migrate module).
export async function migrateDatabase(url: string): Promise<void> {
  const { migrateUp } = await import('../migrate/migrator');
  await migrateUp({ url, quiet: true });
}

// Registered for every test file (jest setupFilesAfterEnv): jest ends its
// workers without an exit event, so the temp directories a file made are
// removed when the file is done.
import { removeTempDirs } from './helpers';

afterAll(removeTempDirs);

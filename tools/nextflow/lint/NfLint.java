// Strict-syntax check of Nextflow scripts and configs with nf-lang (the parser of `nextflow lint`,
// the language server and, from Nextflow 26.04, the default parser of the engine itself).
//
//   java -cp 'tools/nextflow/lint/lib/*' tools/nextflow/lint/NfLint.java FILE_OR_DIR...
//
// Every *.nf file is parsed with the script parser and every *.config file with the config
// parser; scripts are then analysed together (includes, names, process/workflow semantics).
// Prints one line per problem, "path:line:col: error|warning: message", and exits 1 when there
// is any error (2 on bad usage). Warnings do not fail unless --strict-warnings is given.
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import nextflow.config.control.ConfigParser;
import nextflow.script.control.ScriptParser;
import org.codehaus.groovy.control.SourceUnit;
import org.codehaus.groovy.control.messages.Message;
import org.codehaus.groovy.control.messages.SyntaxErrorMessage;
import org.codehaus.groovy.control.messages.WarningMessage;
import org.codehaus.groovy.syntax.CSTNode;
import org.codehaus.groovy.syntax.SyntaxException;

public class NfLint {
    public static void main(String[] args) throws IOException {
        boolean strictWarnings = false;
        List<File> scripts = new ArrayList<>();
        List<File> configs = new ArrayList<>();
        for (String arg : args) {
            if (arg.equals("--strict-warnings")) { strictWarnings = true; continue; }
            Path p = Path.of(arg);
            if (!Files.exists(p)) {
                System.err.println("nf-lint: no such file or folder: " + arg);
                System.exit(2);
            }
            List<Path> files = new ArrayList<>();
            if (Files.isDirectory(p)) {
                try (Stream<Path> walk = Files.walk(p)) {
                    walk.filter(Files::isRegularFile)
                        .filter(f -> {   // skip Nextflow's own folders under the given one
                            String rel = p.relativize(f).toString();
                            return !rel.startsWith("work/") && !rel.contains("/work/") && !rel.contains(".nextflow/");
                        })
                        .forEach(files::add);
                }
            } else {
                files.add(p);
            }
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(".nf")) scripts.add(f.toFile());
                else if (name.endsWith(".config")) configs.add(f.toFile());
            }
        }
        if (scripts.isEmpty() && configs.isEmpty()) {
            System.err.println("usage: NfLint [--strict-warnings] FILE_OR_DIR...  (no .nf or .config file given)");
            System.exit(2);
        }
        int[] counts = new int[2];  // errors, warnings

        ScriptParser scriptParser = new ScriptParser();
        List<SourceUnit> scriptUnits = new ArrayList<>();
        for (File f : scripts) scriptUnits.add(scriptParser.parse(f));
        scriptParser.analyze();
        for (SourceUnit unit : scriptUnits) report(unit, counts);

        ConfigParser configParser = new ConfigParser();
        List<SourceUnit> configUnits = new ArrayList<>();
        for (File f : configs) configUnits.add(configParser.parse(f));
        configParser.analyze();
        for (SourceUnit unit : configUnits) report(unit, counts);

        System.out.printf("nf-lint: %d file(s), %d error(s), %d warning(s)%n",
            scripts.size() + configs.size(), counts[0], counts[1]);
        System.exit(counts[0] > 0 || (strictWarnings && counts[1] > 0) ? 1 : 0);
    }

    private static void report(SourceUnit unit, int[] counts) {
        var collector = unit.getErrorCollector();
        String path = unit.getName();
        if (collector.getErrors() != null) {
            for (Message m : collector.getErrors()) {
                counts[0]++;
                if (m instanceof SyntaxErrorMessage sem) {
                    SyntaxException e = sem.getCause();
                    System.out.printf("%s:%d:%d: error: %s%n", path, e.getStartLine(), e.getStartColumn(), e.getOriginalMessage());
                } else {
                    var w = new java.io.StringWriter();
                    m.write(new java.io.PrintWriter(w));
                    System.out.printf("%s: error: %s%n", path, w.toString().strip());
                }
            }
        }
        if (collector.getWarnings() != null) {
            for (WarningMessage w : collector.getWarnings()) {
                counts[1]++;
                CSTNode ctx = w.getContext();
                int line = ctx != null ? ctx.getStartLine() : 0;
                int col = ctx != null ? ctx.getStartColumn() : 0;
                System.out.printf("%s:%d:%d: warning: %s%n", path, line, col, w.getMessage());
            }
        }
    }
}

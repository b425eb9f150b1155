// PgJDBC (Debian's libpostgresql-jdbc-java) against `rustydb serve`, run by
// server/tests/jdbc.rs as a single-file program: `java -cp postgresql.jar
// JdbcClient.java PORT`. Exits non-zero on the first failed check.

import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcClient {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static List<String> column(ResultSet rs, String name) throws SQLException {
        List<String> out = new ArrayList<>();
        while (rs.next()) out.add(rs.getString(name));
        rs.close();
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/rustydb";
        Properties props = new Properties();
        props.setProperty("user", "rustydb");
        props.setProperty("password", System.getenv("PGPASSWORD"));
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = conn.getMetaData();
            check(md.getDatabaseProductName().equals("PostgreSQL"), md.getDatabaseProductName());
            check(md.getDatabaseMajorVersion() >= 12, md.getDatabaseProductVersion());

            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, price NUMERIC(10,2), added TIMESTAMP)");
                st.execute("CREATE UNIQUE INDEX items_name ON items (name)");
            }

            // PreparedStatement with parameters and a batch.
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO items VALUES (?, ?, ?, ?)")) {
                for (int i = 1; i <= 100; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "item" + i);
                    ps.setBigDecimal(3, new BigDecimal(i + ".50"));
                    ps.setTimestamp(4, Timestamp.valueOf("2024-01-02 03:04:05"));
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                check(counts.length == 100 && Arrays.stream(counts).allMatch(c -> c == 1), Arrays.toString(counts));
            }
            // Executed enough times that PgJDBC switches to a named server-side statement.
            try (PreparedStatement ps = conn.prepareStatement("SELECT name, price, added FROM items WHERE id = ?")) {
                for (int i = 1; i <= 10; i++) {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "row " + i);
                        check(rs.getString(1).equals("item" + i), rs.getString(1));
                        check(rs.getBigDecimal(2).equals(new BigDecimal(i + ".50")), rs.getBigDecimal(2).toString());
                        check(rs.getTimestamp(3).equals(Timestamp.valueOf("2024-01-02 03:04:05")), rs.getTimestamp(3).toString());
                        check(!rs.next(), "one row");
                    }
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("SELECT count(*), sum(price) FROM items WHERE name LIKE ?")) {
                ps.setString(1, "item1%");
                try (ResultSet rs = ps.executeQuery()) {
                    check(rs.next(), "aggregate row");
                    check(rs.getLong(1) == 12, "count " + rs.getLong(1));
                }
            }

            // Transactions: rollback discards, commit keeps, errors report SQLSTATE.
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("UPDATE items SET price = 0 WHERE id <= 10");
                conn.rollback();
                st.executeUpdate("DELETE FROM items WHERE id > 90");
                conn.commit();
                try {
                    st.executeUpdate("INSERT INTO items VALUES (1, 'dup', 1, NULL)");
                    check(false, "duplicate key accepted");
                } catch (SQLException e) {
                    check("23505".equals(e.getSQLState()), "sqlstate " + e.getSQLState());
                }
                conn.rollback();
            }
            conn.setAutoCommit(true);
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*), sum(price) FROM items")) {
                check(rs.next(), "count row");
                check(rs.getLong(1) == 90, "count after commit " + rs.getLong(1));
                check(rs.getBigDecimal(2).equals(new BigDecimal("4140.00")), "sum " + rs.getBigDecimal(2));
            }

            // The DatabaseMetaData calls DBeaver and DataGrip make on connect and browse.
            check(column(md.getCatalogs(), "TABLE_CAT").equals(List.of("rustydb")), "catalogs");
            List<String> schemas = column(md.getSchemas(), "TABLE_SCHEM");
            check(schemas.contains("public") && schemas.contains("pg_catalog"), "schemas " + schemas);
            check(column(md.getTables(null, "public", "%", new String[] {"TABLE"}), "TABLE_NAME").equals(List.of("items")), "tables");
            List<String> types = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "items", "%")) {
                while (rs.next()) {
                    types.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("NULLABLE"));
                }
            }
            check(types.equals(List.of("id:int4:0", "name:varchar:0", "price:numeric:1", "added:timestamp:1")), "columns " + types);
            check(column(md.getPrimaryKeys(null, "public", "items"), "COLUMN_NAME").equals(List.of("id")), "primary key");
            List<String> indexes = new ArrayList<>();
            try (ResultSet rs = md.getIndexInfo(null, "public", "items", false, false)) {
                while (rs.next()) {
                    indexes.add(rs.getString("INDEX_NAME") + ":" + rs.getString("COLUMN_NAME") + ":" + rs.getBoolean("NON_UNIQUE"));
                }
            }
            check(indexes.contains("items_name:name:false"), "indexes " + indexes);
            check(md.getTableTypes().next(), "table types");
            check(md.getTypeInfo().next(), "type info");
        }
        System.out.println("jdbc: ok");
    }
}

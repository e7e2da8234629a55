"""Where refresh jobs find datasets: a folder of tables (``folder``) or OpenML (``openml``)."""
